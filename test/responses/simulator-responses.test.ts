// The simulator's OpenAI /v1/responses endpoint, driven by the official openai SDK over real HTTP.
import OpenAI, { APIError } from 'openai';
import type { ResponseInputItem } from 'openai/resources/responses/responses';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { passthroughBody, readResponseEvents, restoreEcho, restoreEventEcho } from '../../src/responses/passthrough.js';
import { parseResponsesRequest } from '../../src/responses/schema.js';
import { buildHistory, toStored } from '../../src/responses/state.js';
import { collectResponse } from '../../src/responses/stream.js';
import type { ResponseObject, ResponseStreamEvent } from '../../src/responses/types.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';

let sim: Simulator;
let client: OpenAI;

beforeAll(async () => {
  sim = await startSimulator();
  client = new OpenAI({ baseURL: sim.baseUrls.openai, apiKey: 'sk-sim-openai', maxRetries: 0 });
});

afterAll(async () => {
  await sim.close();
});

const weatherTool = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'Weather for a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  strict: true,
};

describe('simulator POST /openai/v1/responses', () => {
  it('string input: text output, usage, and a record for the responses endpoint', async () => {
    const r = await client.responses.create({ model: 'gpt-4o-mini', input: 'Say something about tolls.' });
    expect(r.status).toBe('completed');
    expect(r.output_text.length).toBeGreaterThan(0);
    expect(r.usage?.input_tokens).toBeGreaterThan(0);
    expect(r.usage?.total_tokens).toBe((r.usage?.input_tokens ?? 0) + (r.usage?.output_tokens ?? 0));
    const rec = sim.records().find((x) => x.id === r.id);
    expect(rec).toMatchObject({ provider: 'openai', endpoint: 'responses', stream: false, status: 200, completionTokens: r.usage?.output_tokens });
  });

  it('two-turn function calling via previous_response_id', async () => {
    const first = await client.responses.create({ model: 'gpt-4o-mini', input: 'Weather in Paris?', tools: [weatherTool] });
    const call = first.output.find((o) => o.type === 'function_call');
    if (call?.type !== 'function_call') throw new Error('expected a function call');
    expect(call.name).toBe('get_weather');
    expect(() => JSON.parse(call.arguments) as unknown).not.toThrow();
    const second = await client.responses.create({
      model: 'gpt-4o-mini',
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: '{"temp_c":18}' }],
      tools: [weatherTool],
    });
    expect(second.output.some((o) => o.type === 'function_call')).toBe(false);
    expect(second.output_text.length).toBeGreaterThan(0);
    expect(second.previous_response_id).toBe(first.id);
    // The second turn's prompt holds the first turn: more input tokens than the first request.
    expect(second.usage?.input_tokens).toBeGreaterThan(first.usage?.input_tokens ?? Infinity);
  });

  it('two-turn function calling via replayed items (store: false)', async () => {
    const input: ResponseInputItem[] = [{ role: 'user', content: 'Weather in Rome?' }];
    const first = await client.responses.create({ model: 'gpt-4o-mini', input, tools: [weatherTool], store: false });
    const call = first.output.find((o) => o.type === 'function_call');
    if (call?.type !== 'function_call') throw new Error('expected a function call');
    const second = await client.responses.create({
      model: 'gpt-4o-mini',
      // The SDK types output items more widely than input items (computer calls may be `failed`); ours are plain.
      input: [...input, ...(first.output as ResponseInputItem[]), { type: 'function_call_output', call_id: call.call_id, output: 'sunny' }],
      tools: [weatherTool],
      store: false,
    });
    expect(second.output_text.length).toBeGreaterThan(0);
    await expect(client.responses.retrieve(first.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('json_schema output parses and fits the schema', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string' }, temp_c: { type: 'number' } }, required: ['city', 'temp_c'], additionalProperties: false };
    const r = await client.responses.parse({ model: 'gpt-4o-mini', input: 'weather as JSON', text: { format: { type: 'json_schema', name: 'w', schema, strict: true } } });
    const parsed = r.output_parsed as { city: unknown; temp_c: unknown } | null;
    expect(typeof parsed?.city).toBe('string');
    expect(typeof parsed?.temp_c).toBe('number');
  });

  it('responses.stream(): deltas add up to output_text; usage on the final response; record says stream', async () => {
    const stream = client.responses.stream({ model: 'gpt-4o-mini', input: 'Tell me a short story.' });
    let text = '';
    stream.on('response.output_text.delta', (e) => (text += e.delta));
    const final = await stream.finalResponse();
    expect(text.length).toBeGreaterThan(0);
    expect(final.output_text).toBe(text);
    expect(final.usage?.output_tokens).toBeGreaterThan(0);
    expect(sim.records().find((x) => x.id === final.id)).toMatchObject({ endpoint: 'responses', stream: true, completionTokens: final.usage?.output_tokens });
    const again = await client.responses.retrieve(final.id);
    expect(again.output_text).toBe(text);
  });

  it('a reasoning model with reasoning.summary yields a reasoning item with summary text', async () => {
    const r = await client.responses.create({ model: 'gpt-5-mini', input: 'Think, then answer.', reasoning: { effort: 'low', summary: 'auto' } });
    const reasoning = r.output.find((o) => o.type === 'reasoning');
    if (reasoning?.type !== 'reasoning') throw new Error('expected a reasoning item');
    expect(reasoning.summary[0]?.text.length).toBeGreaterThan(0);
    expect(r.usage?.output_tokens_details.reasoning_tokens).toBeGreaterThan(0);
  });

  it('unknown previous_response_id: OpenAI error previous_response_not_found', async () => {
    let caught: unknown;
    try {
      await client.responses.create({ model: 'gpt-4o-mini', input: 'x', previous_response_id: 'resp_doesnotexist' });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(APIError);
    expect((caught as APIError).code).toBe('previous_response_not_found');
  });

  it('GET and DELETE a stored response; another API key cannot see it', async () => {
    const r = await client.responses.create({ model: 'gpt-4o-mini', input: 'keep me' });
    expect((await client.responses.retrieve(r.id)).id).toBe(r.id);
    const other = new OpenAI({ baseURL: sim.baseUrls.openai, apiKey: 'sk-other', maxRetries: 0 });
    await expect(other.responses.retrieve(r.id)).rejects.toBeInstanceOf(APIError);
    await client.responses.delete(r.id);
    await expect(client.responses.retrieve(r.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('an error_event fault mid-stream reaches the SDK as an APIError', async () => {
    const stream = client.responses.stream({ model: 'gpt-4o-mini', input: 'hello' }, { headers: { 'x-sim-fault': 'error_event:3' } });
    await expect(stream.finalResponse()).rejects.toBeInstanceOf(APIError);
  });

  it('native pass-through with gateway-held state: history expanded upstream, nothing stored upstream, echo restored', async () => {
    const post = (body: unknown) =>
      fetch(`${sim.baseUrls.openai}/responses`, { method: 'POST', headers: { authorization: 'Bearer sk-sim-openai', 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const req1 = parseResponsesRequest({ model: 'cheap-alias', input: 'Weather in Oslo?', tools: [weatherTool] });
    const r1 = restoreEcho((await (await post(passthroughBody(req1, [], 'gpt-4o-mini'))).json()) as Record<string, unknown>, req1) as unknown as ResponseObject;
    expect(r1.store).toBe(true);
    const call = r1.output.find((o) => o.type === 'function_call');
    if (call?.type !== 'function_call') throw new Error('expected a function call');
    const stored = toStored({ tenantId: 't1', response: r1, input: [{ type: 'message', role: 'user', content: 'Weather in Oslo?' }], history: [] });

    const req2 = parseResponsesRequest({
      model: 'cheap-alias',
      previous_response_id: r1.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: '-3C' }],
      tools: [weatherTool],
      stream: true,
    });
    const res = await post(passthroughBody(req2, buildHistory(stored), 'gpt-4o-mini'));
    expect(res.status).toBe(200);
    const events: ResponseStreamEvent[] = [];
    for await (const e of readResponseEvents(res.body as unknown as AsyncIterable<Uint8Array>)) events.push(restoreEventEcho(e, req2));
    const final = await collectResponse((async function* () { yield* events; })());
    expect(final.status).toBe('completed');
    expect(final.previous_response_id).toBe(r1.id);
    expect(final.store).toBe(true);
    expect(final.usage?.input_tokens).toBeGreaterThan(r1.usage?.input_tokens ?? Infinity);
    // Upstream kept nothing: the gateway is the only holder of the conversation.
    await expect(client.responses.retrieve(r1.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.responses.retrieve(final.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});
