// The Responses API through the running gateway with the official openai SDK, for each provider through the simulator:
// native pass-through on OpenAI, translation through Chat Completions on DeepSeek and Gemini; state, tenancy, ledger rows.
import OpenAI from 'openai';
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';

const clock = () => new Date('2026-11-25T12:00:00Z'); // before the Gemini 2.5 shutdown; off-peak for DeepSeek

let h: Harness;
let sql: postgres.Sql;
let client: OpenAI;
let other: OpenAI;
let tenantId: string;
/** x-request-id of the last POST answer the main client received (also for SDK helpers that hide the HTTP response). */
let lastRequestId: string | null = null;

beforeAll(async () => {
  h = await startHarness({ clock });
  sql = h.sql();
  const a = await h.createTenant('responses-a');
  tenantId = a.tenant.id;
  const capture: typeof fetch = async (url, init) => {
    const res = await fetch(url, init);
    if (init?.method === 'POST') lastRequestId = res.headers.get('x-request-id');
    return res;
  };
  client = new OpenAI({ baseURL: h.baseURL, apiKey: a.key, maxRetries: 0, fetch: capture });
  const b = await h.createTenant('responses-b');
  other = new OpenAI({ baseURL: h.baseURL, apiKey: b.key, maxRetries: 0 });
});
afterAll(async () => {
  await h?.close();
});

interface LedgerRow {
  tenant_id: string;
  endpoint: string;
  provider: string | null;
  model: string | null;
  stream: boolean;
  input_tokens: number;
  output_tokens: number;
  cost_pico: string;
  usage_source: string;
  outcome: string;
  route: string | null;
}

async function ledgerRow(requestId: string | null): Promise<LedgerRow> {
  expect(requestId).toMatch(/^req_/);
  await h.flushLedger();
  const rows = await sql<LedgerRow[]>`select tenant_id, endpoint, provider, model, stream, input_tokens, output_tokens, cost_pico::text,
    usage_source, outcome, route from usage_ledger where request_id = ${requestId ?? ''}`;
  expect(rows).toHaveLength(1);
  return rows[0];
}

function expectMetered(row: LedgerRow, provider: string, model: string, stream: boolean): void {
  expect(row).toMatchObject({ tenant_id: tenantId, endpoint: 'responses', provider, model, stream, usage_source: 'reported', outcome: 'ok' });
  expect(row.input_tokens).toBeGreaterThan(0);
  expect(row.output_tokens).toBeGreaterThan(0);
  expect(BigInt(row.cost_pico)).toBeGreaterThan(0n);
}

/** OpenAI answered natively (its /responses saw this response id); the others through their chat endpoints. */
function expectUpstream(responseId: string, provider: string, stream: boolean): void {
  const records = h.sim.records();
  const native = records.find((x) => x.id === responseId);
  if (provider === 'openai') {
    expect(native).toMatchObject({ provider: 'openai', endpoint: 'responses', stream, status: 200 });
  } else {
    expect(native).toBeUndefined();
    expect(records.filter((x) => x.provider === provider).at(-1)).toMatchObject({ endpoint: 'chat', stream, status: 200 });
  }
}

const weatherTool = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'Current weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  strict: true,
};

const citySchema = {
  type: 'json_schema' as const,
  name: 'city',
  schema: {
    type: 'object',
    properties: { name: { type: 'string' }, population: { type: 'integer' } },
    required: ['name', 'population'],
    additionalProperties: false,
  },
  strict: true,
};

const cases = [
  { model: 'gpt-4o-mini', provider: 'openai' },
  { model: 'deepseek-flash', provider: 'deepseek' },
  { model: 'gemini-2.5-flash', provider: 'gemini' },
] as const;

describe.each(cases)('responses through $model', ({ model, provider }) => {
  it('string input: output_text, usage, headers and a ledger row with endpoint responses', async () => {
    const { data: r, response } = await client.responses.create({ model, input: `Tell me about rivers, ${model}.` }).withResponse();
    expect(r.object).toBe('response');
    expect(r.status).toBe('completed');
    expect(r.id).toMatch(/^resp_/);
    expect(r.output_text.length).toBeGreaterThan(0);
    expect(r.usage?.input_tokens).toBeGreaterThan(0);
    expect(r.usage?.output_tokens).toBeGreaterThan(0);
    expect(r.usage?.total_tokens).toBe((r.usage?.input_tokens ?? 0) + (r.usage?.output_tokens ?? 0));
    expect((r as unknown as { store: unknown }).store).toBe(true);
    expectUpstream(r.id, provider, false);
    expect(response.headers.get('x-tollgate-provider')).toBe(provider);
    expect(response.headers.get('x-tollgate-model')).toBe(model);
    expect(response.headers.get('x-tollgate-cost-usd')).toMatch(/^\d+\.\d{12}$/);
    const row = await ledgerRow(response.headers.get('x-request-id'));
    expectMetered(row, provider, model, false);
    expect(row.input_tokens).toBe(r.usage?.input_tokens);
    expect(row.output_tokens).toBe(r.usage?.output_tokens);
  });

  it('items input with instructions and metadata', async () => {
    const r = await client.responses.create({
      model,
      instructions: 'Answer in one short paragraph.',
      metadata: { case: 'items' },
      input: [
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Name a mountain.' }] },
        { type: 'message', role: 'assistant', content: 'Mont Blanc.' },
        { type: 'message', role: 'user', content: 'And a lake?' },
      ],
    });
    expect(r.status).toBe('completed');
    expect(r.output_text.length).toBeGreaterThan(0);
    expect(r.instructions).toBe('Answer in one short paragraph.');
    expect(r.metadata).toEqual({ case: 'items' });
    expectMetered(await ledgerRow(lastRequestId), provider, model, false);
  });

  it('two-turn function calling via previous_response_id', async () => {
    const first = await client.responses.create({ model, input: 'What is the weather in Paris? Use the tool.', tools: [weatherTool] });
    const call = first.output.find((o) => o.type === 'function_call');
    expect(call?.type).toBe('function_call');
    if (call?.type !== 'function_call') return;
    expect(call.name).toBe('get_weather');
    expect(() => JSON.parse(call.arguments)).not.toThrow();
    expectMetered(await ledgerRow(lastRequestId), provider, model, false);

    const second = await client.responses.create({
      model,
      previous_response_id: first.id,
      tools: [weatherTool],
      input: [{ type: 'function_call_output', call_id: call.call_id, output: '{"temp_c":18,"sky":"clear"}' }],
    });
    expect(second.previous_response_id).toBe(first.id);
    expect(second.output.some((o) => o.type === 'function_call')).toBe(false);
    expect(second.output_text.length).toBeGreaterThan(0);
    const row = await ledgerRow(lastRequestId);
    expectMetered(row, provider, model, false);
    // The second turn carried the first turn's items: more prompt than the tool output alone.
    expect(row.input_tokens).toBeGreaterThan(first.usage?.input_tokens ?? Infinity);
  });

  it('two-turn function calling via replayed items, with store false', async () => {
    const question = { type: 'message' as const, role: 'user' as const, content: 'What is the weather in Oslo? Use the tool.' };
    const first = await client.responses.create({ model, input: [question], tools: [weatherTool], store: false });
    expect((first as unknown as { store: unknown }).store).toBe(false);
    const call = first.output.find((o) => o.type === 'function_call');
    if (call?.type !== 'function_call') throw new Error(`expected a function call, got ${JSON.stringify(first.output)}`);
    await expect(client.responses.retrieve(first.id)).rejects.toMatchObject({ status: 404 });

    const second = await client.responses.create({
      model,
      store: false,
      tools: [weatherTool],
      input: [question, ...(first.output as OpenAI.Responses.ResponseInputItem[]), { type: 'function_call_output', call_id: call.call_id, output: '{"temp_c":-3}' }],
    });
    expect(second.output.some((o) => o.type === 'function_call')).toBe(false);
    expect(second.output_text.length).toBeGreaterThan(0);
    expectMetered(await ledgerRow(lastRequestId), provider, model, false);
  });

  it('JSON-schema output (DeepSeek: the documented 400)', async () => {
    const ask = () => client.responses.parse({ model, input: 'Describe a large city.', text: { format: citySchema } });
    if (provider === 'deepseek') {
      await expect(ask()).rejects.toMatchObject({ status: 400 });
      return;
    }
    const r = await ask();
    const parsed = JSON.parse(r.output_text) as Record<string, unknown>;
    expect(typeof parsed.name).toBe('string');
    expect(Number.isInteger(parsed.population)).toBe(true);
    expect(r.output_parsed).toEqual(parsed);
    expect(r.text?.format?.type).toBe('json_schema');
    expectMetered(await ledgerRow(lastRequestId), provider, model, false);
  });

  it('responses.stream() gives output_text and a final response; stored before completion; ledger row', async () => {
    const stream = client.responses.stream({ model, input: `Stream a few words about lakes, ${model}.` });
    let text = '';
    const types: string[] = [];
    let lastSeq = -1;
    let monotonic = true;
    let storedAtCompletion: string | undefined;
    for await (const event of stream) {
      types.push(event.type);
      if (event.sequence_number <= lastSeq) monotonic = false;
      lastSeq = event.sequence_number;
      if (event.type === 'response.output_text.delta') text += event.delta;
      // Stored before the terminal event was sent: a client may refer to it the moment it sees completion.
      if (event.type === 'response.completed') storedAtCompletion = (await client.responses.retrieve(event.response.id)).status;
    }
    const final = await stream.finalResponse();
    expect(monotonic).toBe(true);
    expect(storedAtCompletion).toBe('completed');
    expect(types[0]).toBe('response.created');
    expect(types.at(-1)).toBe('response.completed');
    expect(text.length).toBeGreaterThan(0);
    expect(final.output_text).toBe(text);
    expect(final.usage?.output_tokens).toBeGreaterThan(0);
    expectUpstream(final.id, provider, true);
    const row = await ledgerRow(lastRequestId);
    expectMetered(row, provider, model, true);
    expect(row.output_tokens).toBe(final.usage?.output_tokens);
    const stored = await client.responses.retrieve(final.id);
    expect(stored.output_text).toBe(text);
  });
});

describe('reasoning', () => {
  it.each(['deepseek-flash', 'gemini-2.5-flash'])('%s: reasoning.effort gives a reasoning item with summary text, reasoning tokens metered', async (model) => {
    const r = await client.responses.create({ model, input: 'Think about why the sky is blue.', reasoning: { effort: 'high', summary: 'auto' } });
    const reasoning = r.output.find((o) => o.type === 'reasoning');
    expect(reasoning?.type).toBe('reasoning');
    if (reasoning?.type !== 'reasoning') return;
    expect(reasoning.summary[0]?.text.length).toBeGreaterThan(0);
    expect(r.output.findIndex((o) => o.type === 'reasoning')).toBeLessThan(r.output.findIndex((o) => o.type === 'message'));
    const reasoningTokens = r.usage?.output_tokens_details.reasoning_tokens ?? 0;
    expect(reasoningTokens).toBeGreaterThan(0);
    await h.flushLedger();
    const [row] = await sql<{ reasoning_tokens: number }[]>`select reasoning_tokens from usage_ledger where request_id = ${lastRequestId ?? ''}`;
    expect(row?.reasoning_tokens).toBe(reasoningTokens);
  });
});

describe('stored responses', () => {
  it('GET returns the stored response; DELETE removes it; both 404 for another tenant', async () => {
    const r = await client.responses.create({ model: 'gemini-2.5-flash', input: 'Something to keep.' });
    const got = await client.responses.retrieve(r.id);
    expect(got.id).toBe(r.id);
    expect(got.output_text).toBe(r.output_text);

    await expect(other.responses.retrieve(r.id)).rejects.toMatchObject({ status: 404 });
    await expect(other.responses.delete(r.id)).rejects.toMatchObject({ status: 404 });
    await expect(other.responses.create({ model: 'gemini-2.5-flash', previous_response_id: r.id, input: 'go on' })).rejects.toMatchObject({ status: 404 });

    const del = await fetch(`${h.baseURL}/responses/${r.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${client.apiKey}` } });
    expect(del.status).toBe(200);
    expect(await del.json()).toEqual({ id: r.id, object: 'response', deleted: true });
    await expect(client.responses.retrieve(r.id)).rejects.toMatchObject({ status: 404 });
    await expect(client.responses.delete(r.id)).rejects.toMatchObject({ status: 404 });
  });

  it('an unknown previous_response_id is an OpenAI-shaped 404', async () => {
    const res = await fetch(`${h.baseURL}/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${client.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', previous_response_id: 'resp_doesnotexist', input: 'hi' }),
    });
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ type: 'invalid_request_error', param: 'previous_response_id', code: 'previous_response_not_found' });
    expect(String(body.error.message)).toContain('resp_doesnotexist');
  });

  it('a conversation continues across providers through the gateway-held state', async () => {
    const first = await client.responses.create({ model: 'gpt-4o-mini', input: 'Remember the word heron.' });
    const second = await client.responses.create({ model: 'deepseek-flash', previous_response_id: first.id, input: 'Which word?' });
    expect(second.status).toBe('completed');
    expect(second.usage?.input_tokens).toBeGreaterThan(first.usage?.input_tokens ?? Infinity);
  });
});

describe('route alias', () => {
  it('auto: the router picks, the ledger row records the route and the served model', async () => {
    const { data: r, response } = await client.responses.create({ model: 'auto', input: 'Pick any model for this.' }).withResponse();
    expect(r.status).toBe('completed');
    expect(r.output_text.length).toBeGreaterThan(0);
    const provider = response.headers.get('x-tollgate-provider') ?? '';
    const model = response.headers.get('x-tollgate-model') ?? '';
    expect(response.headers.get('x-tollgate-route')).toContain('alias=auto');
    const row = await ledgerRow(response.headers.get('x-request-id'));
    expectMetered(row, provider, model, false);
    expect(row.route).toBe('auto');
  });
});
