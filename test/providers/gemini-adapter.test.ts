// Gemini adapter specifics: every finish reason through the simulator, thought signatures, errors, image URLs, embeddings.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { embeddingRequestSchema } from '../../src/api/openai.js';
import { GatewayError } from '../../src/errors.js';
import { geminiErrorFromEvent, geminiErrorFromHttp, parseRetryDelay } from '../../src/providers/gemini-errors.js';
import { createGeminiProvider, type GeminiProvider } from '../../src/providers/gemini.js';
import { makeToolCallId } from '../../src/providers/gemini-ids.js';
import { createUpstreamHttp, type UpstreamHttp } from '../../src/providers/http.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { startCaptureServer, sendJson, type CaptureServer } from './capture-server.js';
import { assemble, caught, chatReq, collect, ctxFor, httpOptions, upstreamError, weatherTools } from './contract.case.js';

const KEY = 'sim-gemini-key';
const MODEL = 'gemini-2.5-flash';
let sim: Simulator;
let http: UpstreamHttp;
let gemini: GeminiProvider;
let images: CaptureServer;

beforeAll(async () => {
  sim = await startSimulator({ seed: 11 });
  http = createUpstreamHttp(httpOptions);
  gemini = createGeminiProvider({ baseUrl: sim.baseUrls.gemini, apiKey: KEY, http, images: { fetch: false, maxBytes: 1000, timeoutMs: 1000 } });
  images = await startCaptureServer();
});
afterAll(async () => {
  await gemini?.close();
  await http?.close();
  await sim?.close();
  await images?.close();
});
beforeEach(() => sim.reset());

describe('finish reasons through the simulator', () => {
  it.each([
    ['STOP', 'stop'],
    ['MAX_TOKENS', 'length'],
    ['SAFETY', 'content_filter'],
    ['RECITATION', 'content_filter'],
    ['BLOCKLIST', 'content_filter'],
    ['PROHIBITED_CONTENT', 'content_filter'],
    ['SPII', 'content_filter'],
    ['LANGUAGE', 'content_filter'],
    ['OTHER', 'content_filter'],
    ['MALFORMED_FUNCTION_CALL', 'stop'],
    ['UNEXPECTED_TOOL_CALL', 'stop'],
    ['TOO_MANY_TOOL_CALLS', 'stop'],
  ])('%s → %s (stream and non-stream)', async (reason, expected) => {
    const r = chatReq(MODEL, { messages: [{ role: 'user', content: `go [[sim:finish=${reason}]]` }] });
    const c = await gemini.chat(r, ctxFor(MODEL));
    expect(c.choices[0].finish_reason).toBe(expected);
    const s = assemble(await collect(await gemini.chatStream({ ...r, stream: true }, ctxFor(MODEL))));
    expect(s.finish).toBe(expected);
  });
});

describe('thought signatures', () => {
  it('the signature in the id is what Gemini gets back: tampered → 400, intact → ok, foreign id → placeholder → ok', async () => {
    const first = [{ role: 'user', content: 'Weather in Oslo?' }];
    const c = await gemini.chat(chatReq(MODEL, { messages: first, tools: weatherTools, tool_choice: 'required' }), ctxFor(MODEL));
    const call = c.choices[0].message.tool_calls?.[0];
    expect(call?.id).toContain('.');
    if (!call) return;
    const turn = (id: string) =>
      chatReq(MODEL, {
        messages: [...first, { role: 'assistant', content: null, tool_calls: [{ ...call, id }] }, { role: 'tool', tool_call_id: id, content: 'sunny' }],
        tools: weatherTools,
      });
    const bare = call.id.slice(0, call.id.indexOf('.'));
    const tampered = makeToolCallId('x', 0, 0, 'not-the-signature-gemini-issued');
    const e = await upstreamError(gemini.chat(turn(tampered), ctxFor(MODEL)));
    expect([e.kind, e.status, e.retryable]).toEqual(['http', 400, false]);
    expect((await gemini.chat(turn(call.id), ctxFor(MODEL))).choices[0].finish_reason).toBe('stop');
    expect((await gemini.chat(turn(bare), ctxFor(MODEL))).choices[0].finish_reason).toBe('stop');
  });

  it('tool_choice none → no tool call', async () => {
    const c = await gemini.chat(chatReq(MODEL, { tools: weatherTools, tool_choice: 'none' }), ctxFor(MODEL));
    expect(c.choices[0].message.tool_calls).toBeUndefined();
    expect(c.choices[0].finish_reason).toBe('stop');
  });
});

describe('usage', () => {
  it('a repeated long prompt reports cached tokens inside prompt_tokens', async () => {
    const long = `${'The quick brown fox jumps over the lazy dog. '.repeat(150)} Summarise.`;
    const r = chatReq(MODEL, { messages: [{ role: 'user', content: long }] });
    await gemini.chat(r, ctxFor(MODEL));
    const second = await gemini.chat(r, ctxFor(MODEL));
    const rec = sim.records().at(-1);
    expect(rec?.cachedTokens).toBeGreaterThan(0);
    expect(second.usage?.prompt_tokens_details?.cached_tokens).toBe(rec?.cachedTokens);
    expect(second.usage?.prompt_tokens).toBe(rec?.promptTokens);
  });

  it('reasoning not asked for → no reasoning_content, but thought tokens still billed as completion', async () => {
    const c = await gemini.chat(chatReq(MODEL), ctxFor(MODEL));
    expect(c.choices[0].message.reasoning_content).toBeUndefined();
    expect(c.usage?.completion_tokens).toBe(sim.records().at(-1)?.completionTokens);
  });
});

describe('image URLs', () => {
  const withImage = (url: string) =>
    chatReq(MODEL, { messages: [{ role: 'user', content: [{ type: 'text', text: 'what?' }, { type: 'image_url', image_url: { url } }] }] });

  it('http(s) URL with fetching disabled → 400 naming the part', async () => {
    const e = await caught(gemini.chat(withImage('https://example.com/cat.png'), ctxFor(MODEL)));
    expect(e).toBeInstanceOf(GatewayError);
    expect([(e as GatewayError).status, (e as GatewayError).code, (e as GatewayError).param]).toEqual([400, 'unsupported_parameter', 'messages[0].content[1].image_url']);
  });

  it('fetching enabled: a loopback server is refused; with the address check relaxed (test only) the bytes are inlined', async () => {
    const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');
    images.respond((_r, res) => {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(png.length) });
      res.end(png);
    });
    const url = `${images.url}/cat.png`;
    const guarded = createGeminiProvider({ baseUrl: sim.baseUrls.gemini, apiKey: KEY, http, images: { fetch: true, maxBytes: 10_000, timeoutMs: 2_000 } });
    const relaxed = createGeminiProvider({
      baseUrl: sim.baseUrls.gemini,
      apiKey: KEY,
      http,
      images: { fetch: true, maxBytes: 10_000, timeoutMs: 2_000, isAllowedAddress: () => true },
    });
    try {
      images.requests.length = 0;
      const e = await caught(guarded.chat(withImage(url), ctxFor(MODEL)));
      expect(e).toBeInstanceOf(GatewayError);
      expect((e as GatewayError).param).toBe('messages[0].content[1].image_url');
      const e2 = await caught(guarded.chat(withImage(url.replace('127.0.0.1', 'localhost')), ctxFor(MODEL)));
      expect((e2 as GatewayError).status).toBe(400);
      expect(images.requests.length).toBe(0);
      const c = await relaxed.chat(withImage(url), ctxFor(MODEL));
      expect(images.requests.length).toBe(1);
      expect((c.choices[0].message.content ?? '').length).toBeGreaterThan(0);
    } finally {
      await guarded.close();
      await relaxed.close();
    }
  });
});

describe('errors', () => {
  it.each([
    [400, { error: { code: 400, message: 'API key not valid. Please pass a valid API key.', status: 'INVALID_ARGUMENT', details: [{ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID' }] } }, 'auth', 'invalid_api_key', null],
    [400, { error: { code: 400, message: 'bad field', status: 'INVALID_ARGUMENT' } }, 'http', 'invalid_request', null],
    [403, { error: { code: 403, message: 'denied', status: 'PERMISSION_DENIED' } }, 'auth', 'invalid_api_key', null],
    [404, { error: { code: 404, message: 'models/x is not found', status: 'NOT_FOUND' } }, 'http', 'model_not_found', null],
    [429, { error: { code: 429, message: 'quota', status: 'RESOURCE_EXHAUSTED', details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '17s' }] } }, 'http', 'rate_limit_exceeded', 17000],
    [500, { error: { code: 500, message: 'internal', status: 'INTERNAL' } }, 'http', 'server_error', null],
    [503, { error: { code: 503, message: 'overloaded', status: 'UNAVAILABLE' } }, 'http', 'service_unavailable', null],
    [504, { error: { code: 504, message: 'deadline', status: 'DEADLINE_EXCEEDED' } }, 'http', 'timeout', null],
    [502, '<html>bad gateway</html>', 'http', 'server_error', null],
  ])('HTTP %i %j → kind %s, code %s, retryAfterMs %s', (status, body, kind, code, retry) => {
    const e = geminiErrorFromHttp(status, {}, typeof body === 'string' ? body : JSON.stringify(body), 'secret-key');
    expect([e.kind, e.status, e.code, e.retryAfterMs]).toEqual([kind, status, code, retry]);
  });

  it('the key is redacted from a message that quotes it', () => {
    const e = geminiErrorFromHttp(400, {}, JSON.stringify({ error: { code: 400, message: 'key AIzaSECRET123 is bad', status: 'INVALID_ARGUMENT' } }), 'AIzaSECRET123');
    expect(e.message).not.toContain('AIzaSECRET123');
  });

  it('an in-stream error → kind stream with the mapped code', () => {
    const e = geminiErrorFromEvent({ error: { code: 503, message: 'overloaded', status: 'UNAVAILABLE' } }, 'k');
    expect([e.kind, e.code]).toEqual(['stream', 'service_unavailable']);
  });

  it.each([
    ['30s', 30000],
    ['1.5s', 1500],
    ['0s', 0],
    ['soon', null],
    [5, null],
  ])('retryDelay %j → %s ms', (v, ms) => expect(parseRetryDelay(v)).toBe(ms));

  it('429 RESOURCE_EXHAUSTED from the simulator carries retryAfterMs', async () => {
    sim.setFaults([{ provider: 'gemini', fault: { type: 'status', status: 429, retryAfterS: 4 }, times: 1 }]);
    const e = await upstreamError(gemini.chat(chatReq(MODEL), ctxFor(MODEL)));
    expect([e.status, e.code, e.retryAfterMs]).toEqual([429, 'rate_limit_exceeded', 4000]);
  });
});

describe('embeddings and requests on the wire', () => {
  let cap: CaptureServer;
  beforeAll(async () => {
    cap = await startCaptureServer();
  });
  afterAll(async () => cap?.close());

  it('batchEmbedContents body, key header, estimated usage', async () => {
    cap.respond((_r, res) => sendJson(res, 200, { embeddings: [{ values: [0.5, -0.25] }, { values: [1, 2] }] }));
    const p = createGeminiProvider({ baseUrl: cap.url, apiKey: KEY, http, images: { fetch: false, maxBytes: 1, timeoutMs: 1 } });
    const r = await p.embed(embeddingRequestSchema.parse({ model: 'e', input: ['a b', 'c'], dimensions: 2 }), ctxFor('gemini-embedding-001'));
    const req = cap.requests.at(-1);
    expect(req?.url).toBe('/v1beta/models/gemini-embedding-001:batchEmbedContents');
    expect(req?.headers['x-goog-api-key']).toBe(KEY);
    expect(req?.json).toEqual({
      requests: [
        { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'a b' }] }, outputDimensionality: 2 },
        { model: 'models/gemini-embedding-001', content: { parts: [{ text: 'c' }] }, outputDimensionality: 2 },
      ],
    });
    expect(r.usageSource).toBe('estimated');
    expect(r.response.data.map((d) => d.embedding)).toEqual([[0.5, -0.25], [1, 2]]);
    expect(r.response.usage.prompt_tokens).toBeGreaterThan(0);
  });

  it('token-array input → 400 naming input', async () => {
    const e = await caught(gemini.embed(embeddingRequestSchema.parse({ model: 'e', input: [1, 2, 3] }), ctxFor('gemini-embedding-001')));
    expect((e as GatewayError).param).toBe('input');
  });

  it('stream URL uses alt=sse; key only in the header, never in the URL', async () => {
    cap.respond((_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('data: {"candidates":[{"content":{"parts":[{"text":"hi"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":1,"candidatesTokenCount":1}}\r\n\r\n');
    });
    const p = createGeminiProvider({ baseUrl: `${cap.url}/`, apiKey: KEY, http, images: { fetch: false, maxBytes: 1, timeoutMs: 1 } });
    const a = assemble(await collect(await p.chatStream(chatReq(MODEL, { stream: true }), ctxFor('models/gemini-2.5-flash'))));
    expect(a.content).toBe('hi');
    const req = cap.requests.at(-1);
    expect(req?.url).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
    expect(req?.url).not.toContain(KEY);
  });
});
