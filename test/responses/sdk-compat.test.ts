// Proves offline that the official `openai` SDK accepts our Responses output: a local HTTP server replies with our
// translation of scripted chat results, and the SDK's create / stream / finalResponse / output_text read it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI, { APIError } from 'openai';
import type { Response as SdkResponse, ResponseStreamEvent as SdkEvent } from 'openai/resources/responses/responses';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatChunk, ChatCompletion, ChatRequest } from '../../src/api/openai.js';
import { isGatewayError } from '../../src/errors.js';
import { UpstreamError } from '../../src/providers/types.js';
import { chatToResponse } from '../../src/responses/from-chat.js';
import { newResponseId } from '../../src/responses/ids.js';
import { parseResponsesRequest } from '../../src/responses/schema.js';
import { chatStreamToResponseEvents, formatSse } from '../../src/responses/stream.js';
import { responsesToChat } from '../../src/responses/to-chat.js';
import type { ResponseObject, ResponseStreamEvent } from '../../src/responses/types.js';
import { chunk, completion, fromArray, usageChunk } from './fixtures.js';

// Compile-time proof that our types fit the SDK's. output_text is computed by the SDK, never sent by OpenAI; usage is
// null before the end on the wire (the SDK types it optional); error codes are OpenAI's closed list, ours are open.
type Fits<T, U> = [T] extends [U] ? true : false;
type Loose = 'output_text' | 'error' | 'usage';
const responseFits: Fits<Omit<ResponseObject, Loose>, Omit<SdkResponse, Loose>> &
  Fits<NonNullable<ResponseObject['usage']>, NonNullable<SdkResponse['usage']>> = true;
// Lifecycle events carry a Response (checked above); `error` carries a nested copy of the error the SDK needs to throw.
type Lifecycle = 'response.created' | 'response.in_progress' | 'response.completed' | 'response.incomplete' | 'response.failed';
const eventsFit: Fits<Exclude<ResponseStreamEvent, { type: Lifecycle }>, SdkEvent> = true;

interface Script {
  completion?: ChatCompletion;
  chunks?: ChatChunk[];
  failWith?: unknown;
}

let script: Script = {};
let lastChat: ChatRequest | null = null;
let server: Server;
let client: OpenAI;

async function readJson(req: IncomingMessage): Promise<unknown> {
  let raw = '';
  for await (const part of req) raw += String(part);
  return JSON.parse(raw);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const body = parseResponsesRequest(await readJson(req));
    lastChat = responsesToChat(body);
    const ctx = { id: newResponseId(), createdAt: Math.floor(Date.now() / 1000), req: body, model: body.model };
    if (!body.stream) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(chatToResponse(script.completion ?? completion({ content: 'ok' }), ctx)));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for await (const e of chatStreamToResponseEvents(fromArray(script.chunks ?? [], script.failWith), ctx)) res.write(formatSse(e));
    res.end();
  } catch (e) {
    if (!isGatewayError(e)) throw e;
    res.writeHead(e.status, { 'content-type': 'application/json' }).end(JSON.stringify(e.toBody()));
  }
}

beforeAll(async () => {
  server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'test', maxRetries: 0 });
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

const weatherTool = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'Weather for a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  strict: true,
};

describe('official openai SDK against our Responses output', () => {
  it('a Response has every field the SDK types as required (besides output_text, which the SDK computes)', () => {
    void [responseFits, eventsFit]; // checked by tsc, see the top of this file
    const required = ['id', 'created_at', 'error', 'incomplete_details', 'instructions', 'metadata', 'model', 'object', 'output', 'parallel_tool_calls', 'temperature', 'tool_choice', 'tools', 'top_p'];
    const r = chatToResponse(completion({ content: 'x' }), { id: 'resp_1', createdAt: 1, req: parseResponsesRequest({ model: 'm', input: 'x' }), model: 'm' });
    expect(required.filter((k) => !(k in r))).toEqual([]);
  });

  it('responses.create (non-stream): output_text, usage, and the request the SDK sent translated', async () => {
    script = { completion: completion({ content: 'Paris is in France.' }) };
    const r = await client.responses.create({ model: 'gpt-4o-mini', input: 'Where is Paris?', instructions: 'Short answers.' });
    expect(r.output_text).toBe('Paris is in France.');
    expect(r.object).toBe('response');
    expect(r.id).toMatch(/^resp_/);
    expect(r.usage?.output_tokens).toBe(45);
    expect(lastChat?.messages).toEqual([
      { role: 'system', content: 'Short answers.' },
      { role: 'user', content: 'Where is Paris?' },
    ]);
  });

  it('responses.parse with a json_schema text format parses the output', async () => {
    script = { completion: completion({ content: '{"city":"Paris","temp_c":18}' }) };
    const schema = { type: 'object', properties: { city: { type: 'string' }, temp_c: { type: 'number' } }, required: ['city', 'temp_c'], additionalProperties: false };
    const r = await client.responses.parse({
      model: 'gpt-4o-mini',
      input: 'weather',
      text: { format: { type: 'json_schema', name: 'weather', schema, strict: true } },
    });
    expect(r.output_parsed).toEqual({ city: 'Paris', temp_c: 18 });
    expect(lastChat?.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'weather', schema, strict: true } });
  });

  it('responses.stream(): text deltas with snapshots, finalResponse and output_text', async () => {
    script = { chunks: [chunk({ role: 'assistant', content: '' }), chunk({ content: 'Hello, ' }), chunk({ content: 'world' }), chunk({}, 'stop'), usageChunk()] };
    const stream = client.responses.stream({ model: 'gpt-4o-mini', input: 'greet' });
    const snapshots: string[] = [];
    stream.on('response.output_text.delta', (e) => snapshots.push(e.snapshot));
    const final = await stream.finalResponse();
    expect(snapshots).toEqual(['Hello, ', 'Hello, world']);
    expect(final.output_text).toBe('Hello, world');
    expect(final.status).toBe('completed');
    expect(final.usage).toMatchObject({ input_tokens: 120, output_tokens: 45, total_tokens: 165 });
    expect(lastChat).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('responses.create({stream:true}): every event typed and in sequence', async () => {
    script = { chunks: [chunk({ reasoning_content: 'hmm' }), chunk({ content: 'A' }), chunk({}, 'stop'), usageChunk()] };
    const stream = await client.responses.create({ model: 'gpt-4o-mini', input: 'q', stream: true });
    const seen: SdkEvent[] = [];
    for await (const e of stream) seen.push(e);
    expect(seen.map((e) => e.sequence_number)).toEqual(seen.map((_, i) => i));
    expect(seen[0]?.type).toBe('response.created');
    expect(seen.at(-1)?.type).toBe('response.completed');
    expect(seen.some((e) => e.type === 'response.reasoning_summary_text.delta' && e.delta === 'hmm')).toBe(true);
  });

  it('streamed function calls: the SDK assembles arguments and parses strict tools', async () => {
    script = {
      chunks: [
        chunk({ tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"ci' } }] }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: 'ty":"Rome"}' } }] }),
        chunk({}, 'tool_calls'),
        usageChunk(),
      ],
    };
    const stream = client.responses.stream({ model: 'gpt-4o-mini', input: 'weather in Rome', tools: [weatherTool] });
    const argSnapshots: string[] = [];
    stream.on('response.function_call_arguments.delta', (e) => argSnapshots.push(e.snapshot));
    const final = await stream.finalResponse();
    expect(argSnapshots).toEqual(['{"ci', '{"city":"Rome"}']);
    const call = final.output.find((o) => o.type === 'function_call');
    expect(call).toMatchObject({ call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Rome"}', parsed_arguments: { city: 'Rome' } });
    expect(final.output_text).toBe('');
  });

  it('a failure mid-stream reaches the SDK as an APIError, after the response.failed event', async () => {
    script = { chunks: [chunk({ content: 'partial' })], failWith: new UpstreamError({ provider: 'gemini', kind: 'stream', message: 'upstream stream broke', status: 503 }) };
    const stream = await client.responses.create({ model: 'gpt-4o-mini', input: 'q', stream: true });
    const seen: string[] = [];
    let caught: unknown;
    try {
      for await (const e of stream) seen.push(e.type);
    } catch (e) {
      caught = e;
    }
    expect(seen.at(-1)).toBe('response.failed');
    expect(caught).toBeInstanceOf(APIError);
    expect((caught as APIError).message).toContain('upstream stream broke');

    const helper = client.responses.stream({ model: 'gpt-4o-mini', input: 'q' });
    await expect(helper.finalResponse()).rejects.toBeInstanceOf(APIError);
  });

  it('a bad request gets an OpenAI-shaped 400 the SDK turns into BadRequestError with param', async () => {
    let caught: unknown;
    try {
      await client.responses.create({ model: 'gpt-4o-mini', input: 'q', tools: [{ type: 'web_search' }] });
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(OpenAI.BadRequestError);
    expect((caught as APIError).param).toBe('tools[0].type');
  });
});
