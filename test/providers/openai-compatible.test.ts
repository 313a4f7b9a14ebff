// OpenAI-compatible base, OpenAI and DeepSeek adapters against a capturing server: upstream bodies, quirks, errors.
import { beforeEach, describe, expect, it } from 'vitest';
import { chatRequestSchema, embeddingRequestSchema, type Usage } from '../../src/api/openai.js';
import { GatewayError } from '../../src/errors.js';
import { createDeepSeekProvider, fixDeepSeekUsage, prepareDeepSeekChat } from '../../src/providers/deepseek.js';
import { createUpstreamHttp } from '../../src/providers/http.js';
import { createOpenAIProvider, prepareOpenAIChat, tenantCacheKey } from '../../src/providers/openai.js';
import { MAX_TOOL_CALL_ID, shortToolCallId } from '../../src/providers/openai-compatible.js';
import { captureUpstream, startCaptureServer, sendJson, sendSse } from './capture-server.js';
import { caught, collect, ctxFor, httpOptions, upstreamError } from './contract.case.js';

const KEY = 'sk-test-secret-key-0001';
const completion = {
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model: 'up-model',
  choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop', logprobs: null }],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
};
const req = (extra: Record<string, unknown> = {}) => chatRequestSchema.parse({ model: 'client-name', messages: [{ role: 'user', content: 'x' }], ...extra });


const up = captureUpstream(httpOptions);
beforeEach(() => {
  up.server.requests.length = 0;
});

describe('OpenAI adapter upstream body', () => {
  it('non-stream: model replaced, no stream fields, bearer key, tenant cache key hashed', async () => {
    up.server.respond((_r, res) => sendJson(res, 200, completion));
    const p = createOpenAIProvider({ baseUrl: `${up.server.url}/v1/`, apiKey: KEY, http: up.http });
    const c = await p.chat(req({ stream_options: { include_usage: true }, temperature: 0.3 }), { ...ctxFor('gpt-up'), tenantId: 'tenant-42' });
    expect(c.choices[0].message.content).toBe('hi');
    const r = up.server.requests[0];
    expect(r.url).toBe('/v1/chat/completions');
    expect(r.headers.authorization).toBe(`Bearer ${KEY}`);
    const body = r.json as Record<string, unknown>;
    expect(body.model).toBe('gpt-up');
    expect(body.stream).toBeUndefined();
    expect(body.stream_options).toBeUndefined();
    expect(body.temperature).toBe(0.3);
    expect(typeof body.prompt_cache_key).toBe('string');
    expect(String(body.prompt_cache_key)).not.toContain('tenant-42');
  });

  it('tenant cache key: one per tenant, another for another, never the tenant id', () => {
    const first = tenantCacheKey('tenant-1');
    expect(first).toMatch(/^tg-[\w-]{22}$/);
    expect(tenantCacheKey('tenant-1')).toBe(first);
    expect(tenantCacheKey('tenant-2')).not.toBe(first);
    expect(first).not.toContain('tenant');
  });

  it('stream: always asks for usage, keeps the client stream_options', async () => {
    up.server.respond((_r, res) => sendSse(res, ['data: {"id":"a","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}\n\n']));
    const p = createOpenAIProvider({ baseUrl: `${up.server.url}/v1`, apiKey: KEY, http: up.http });
    const chunks = await collect(await p.chatStream(req({ stream: true, stream_options: { include_obfuscation: false } }), ctxFor('gpt-up')));
    expect(chunks.length).toBe(1);
    expect((up.server.requests[0].json as Record<string, unknown>).stream_options).toEqual({ include_obfuscation: false, include_usage: true });
    expect(up.server.requests[0].headers.accept).toBe('text/event-stream');
  });

  it('a stream that ends without [DONE] is a cut (kind stream)', async () => {
    up.server.respond((_r, res) => sendSse(res, ['data: {"id":"a","choices":[]}\n\n'], false));
    const p = createOpenAIProvider({ baseUrl: up.server.url, apiKey: KEY, http: up.http });
    const e = await upstreamError(collect(await p.chatStream(req({ stream: true }), ctxFor('m'))));
    expect(e.kind).toBe('stream');
  });

  it('an in-stream error event keeps its code and type', async () => {
    up.server.respond((_r, res) => sendSse(res, ['data: {"error":{"message":"overloaded","type":"server_error","code":"overloaded"}}\n\n']));
    const p = createOpenAIProvider({ baseUrl: up.server.url, apiKey: KEY, http: up.http });
    const e = await upstreamError(collect(await p.chatStream(req({ stream: true }), ctxFor('m'))));
    expect([e.kind, e.code, e.type]).toEqual(['stream', 'overloaded', 'server_error']);
  });

  it('2xx that is not JSON → invalid_response (not retryable)', async () => {
    up.server.respond((_r, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>proxy</html>');
    });
    const e = await upstreamError(createOpenAIProvider({ baseUrl: up.server.url, apiKey: KEY, http: up.http }).chat(req(), ctxFor('m')));
    expect([e.kind, e.retryable]).toEqual(['invalid_response', false]);
  });

  it.each([
    [{ 'retry-after-ms': '1500' }, 1500],
    [{ 'retry-after': '3' }, 3000],
    [{}, null],
  ])('429 with %j → retryAfterMs %s', async (headers, expected) => {
    up.server.respond((_r, res) => sendJson(res, 429, { error: { message: 'slow down', type: 'requests', code: 'rate_limit_exceeded', param: null } }, headers));
    const e = await upstreamError(createOpenAIProvider({ baseUrl: up.server.url, apiKey: KEY, http: up.http }).chat(req(), ctxFor('m')));
    expect([e.status, e.code, e.type, e.retryAfterMs]).toEqual([429, 'rate_limit_exceeded', 'requests', expected]);
  });

  it('401 echoing our key → kind auth with the key redacted', async () => {
    up.server.respond((_r, res) => sendJson(res, 401, { error: { message: `Incorrect API key provided: ${KEY}`, type: 'invalid_request_error', code: 'invalid_api_key' } }));
    const e = await upstreamError(createOpenAIProvider({ baseUrl: up.server.url, apiKey: KEY, http: up.http }).chat(req(), ctxFor('m')));
    expect(e.kind).toBe('auth');
    expect(e.message).not.toContain(KEY);
    expect(e.retryable).toBe(true);
  });

  it('400 about the request keeps param, is not retryable', async () => {
    up.server.respond((_r, res) => sendJson(res, 400, { error: { message: 'bad temp', type: 'invalid_request_error', code: 'invalid_value', param: 'temperature' } }));
    const e = await upstreamError(createOpenAIProvider({ baseUrl: up.server.url, apiKey: KEY, http: up.http }).chat(req(), ctxFor('m')));
    expect([e.kind, e.status, e.param, e.retryable]).toEqual(['http', 400, 'temperature', false]);
  });

  it('responsesRaw passes status, headers and bytes through untouched (model replaced)', async () => {
    const payload = 'event: response.created\ndata: {"type":"response.created"}\n\n';
    up.server.respond((_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'x-request-id': 'req_up' });
      res.end(payload);
    });
    const p = createOpenAIProvider({ baseUrl: `${up.server.url}/v1`, apiKey: KEY, http: up.http });
    const raw = await p.responsesRaw({ model: 'client', input: 'hi', stream: true }, ctxFor('gpt-up'));
    expect(raw.status).toBe(200);
    expect(raw.headers['x-request-id']).toBe('req_up');
    expect(await new Response(raw.body).text()).toBe(payload);
    expect(up.server.requests[0].url).toBe('/v1/responses');
    expect(up.server.requests[0].json).toEqual({ model: 'gpt-up', input: 'hi', stream: true });
    up.server.respond((_r, res) => sendJson(res, 400, { error: { message: 'bad' } }));
    const bad = await p.responsesRaw({ input: 1 }, ctxFor('gpt-up'));
    expect(bad.status).toBe(400);
    expect(JSON.parse(await new Response(bad.body).text())).toEqual({ error: { message: 'bad' } });
  });

  it('embeddings without usage → estimated with the tokenizer', async () => {
    up.server.respond((_r, res) => sendJson(res, 200, { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.1] }], model: 'e' }));
    const p = createOpenAIProvider({ baseUrl: up.server.url, apiKey: KEY, http: up.http });
    const r = await p.embed(embeddingRequestSchema.parse({ model: 'e', input: 'hello world' }), ctxFor('e-up'));
    expect(r.usageSource).toBe('estimated');
    expect(r.response.usage.prompt_tokens).toBeGreaterThan(0);
    expect((up.server.requests[0].json as Record<string, unknown>).model).toBe('e-up');
  });
});

describe('request normalisation per provider', () => {
  it.each([
    [{ max_tokens: 9 }, { max_completion_tokens: 9 }],
    [{ max_tokens: 9, max_completion_tokens: 5 }, { max_completion_tokens: 5 }],
    [{ thinking: { type: 'enabled' } }, {}],
    [
      { messages: [{ role: 'assistant', content: 'a', reasoning_content: 'r' }, { role: 'user', content: 'u' }] },
      { messages: [{ role: 'assistant', content: 'a' }, { role: 'user', content: 'u' }] },
    ],
  ])('OpenAI %j → %j', (body, expected) => {
    expect(prepareOpenAIChat({ ...body })).toEqual(expected);
  });

  it.each([
    [{ max_completion_tokens: 9 }, { max_tokens: 9 }],
    [{ max_completion_tokens: 9, max_tokens: 4 }, { max_tokens: 4 }],
  ])('DeepSeek %j → %j', (body, expected) => {
    expect(prepareDeepSeekChat({ ...body }, req())).toEqual(expected);
  });
});

describe('tool call ids from other providers', () => {
  it('ids over 40 characters are shortened consistently in calls and results; short ids are untouched', async () => {
    up.server.respond((_r, res) => sendJson(res, 200, completion));
    const long = `call_${'a'.repeat(24)}.${Buffer.from('a gemini thought signature').toString('base64url')}`;
    const p = createOpenAIProvider({ baseUrl: up.server.url, apiKey: KEY, http: up.http });
    await p.chat(
      req({
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: null, tool_calls: [{ id: long, type: 'function', function: { name: 'f', arguments: '{}' } }, { id: 'call_short', type: 'function', function: { name: 'g', arguments: '{}' } }] },
          { role: 'tool', tool_call_id: long, content: 'r' },
          { role: 'tool', tool_call_id: 'call_short', content: 'r' },
        ],
      }),
      ctxFor('m'),
    );
    const sent = (up.server.requests[0].json as { messages: Array<{ tool_calls?: Array<{ id: string }>; tool_call_id?: string }> }).messages;
    const ids = sent[1].tool_calls?.map((c) => c.id) ?? [];
    expect(ids[0].length).toBeLessThanOrEqual(MAX_TOOL_CALL_ID);
    expect(ids[0]).toBe(shortToolCallId(long));
    expect(sent[2].tool_call_id).toBe(ids[0]);
    expect(ids[1]).toBe('call_short');
    expect(sent[3].tool_call_id).toBe('call_short');
  });
});

describe('DeepSeek adapter', () => {
  it.each([
    ['minimal', 'low'],
    ['low', 'low'],
    ['medium', 'high'],
    ['high', 'max'],
    ['xhigh', 'max'],
    ['max', 'max'],
  ])('reasoning_effort %s → %s', (effort, expected) => {
    const body = prepareDeepSeekChat({ reasoning_effort: effort }, req({ reasoning_effort: effort }));
    expect(body.reasoning_effort).toBe(expected);
    expect(body.thinking).toBeUndefined();
  });

  it('reasoning_effort none → thinking disabled', () => {
    expect(prepareDeepSeekChat({ reasoning_effort: 'none' }, req({ reasoning_effort: 'none' }))).toEqual({ thinking: { type: 'disabled' } });
  });

  it('json_schema → 400 naming response_format (never silently dropped); json_object passes', () => {
    const e = (() => {
      try {
        prepareDeepSeekChat({}, req({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: {} } } }));
      } catch (err) {
        return err;
      }
      return null;
    })();
    expect(e).toBeInstanceOf(GatewayError);
    expect([(e as GatewayError).status, (e as GatewayError).code, (e as GatewayError).param]).toEqual([400, 'unsupported_parameter', 'response_format']);
    expect(prepareDeepSeekChat({ a: 1 }, req({ response_format: { type: 'json_object' } }))).toEqual({ a: 1 });
  });

  it.each([
    [{ prompt_tokens: 10, completion_tokens: 1, total_tokens: 11, prompt_cache_hit_tokens: 6 }, 6],
    [{ prompt_tokens: 10, completion_tokens: 1, total_tokens: 11, prompt_cache_hit_tokens: 6, prompt_tokens_details: { cached_tokens: 4 } }, 4],
    [{ prompt_tokens: 10, completion_tokens: 1, total_tokens: 11 }, undefined],
  ])('usage %j → cached_tokens %s', (usage, cached) => {
    expect(fixDeepSeekUsage(usage as Usage)?.prompt_tokens_details?.cached_tokens).toBe(cached);
  });

  it('blank lines before the JSON body, reasoning_content kept in history and answer', async () => {
    up.server.respond((_r, res) =>
      sendJson(res, 200, `\n\n\n${JSON.stringify({ ...completion, choices: [{ ...completion.choices[0], message: { role: 'assistant', content: 'a', reasoning_content: 'r' } }], usage: { ...completion.usage, prompt_cache_hit_tokens: 2 } })}`),
    );
    const p = createDeepSeekProvider({ baseUrl: up.server.url, apiKey: KEY, http: up.http });
    const history = [
      { role: 'user', content: 'q' },
      { role: 'assistant', content: null, reasoning_content: 'earlier thinking', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'c1', content: 'r' },
    ];
    const c = await p.chat(req({ messages: history }), ctxFor('deepseek-v4-flash'));
    expect(c.choices[0].message.reasoning_content).toBe('r');
    expect(c.usage?.prompt_tokens_details?.cached_tokens).toBe(2);
    const sent = up.server.requests[0].json as { messages: Array<Record<string, unknown>> };
    expect(sent.messages[1].reasoning_content).toBe('earlier thinking');
  });

  it('stream: keep-alive comments ignored, reasoning deltas passed, usage cached tokens mapped', async () => {
    const chunk = (delta: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ id: 'd', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta, finish_reason: null }], ...extra })}\n\n`;
    up.server.respond((_r, res) =>
      sendSse(res, [
        ': keep-alive\n\n',
        chunk({ role: 'assistant', content: null, reasoning_content: 'th' }),
        ': keep-alive\n\n',
        chunk({ content: 'ok' }),
        `data: ${JSON.stringify({ id: 'd', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7, prompt_cache_hit_tokens: 3 } })}\n\n`,
      ]),
    );
    const p = createDeepSeekProvider({ baseUrl: up.server.url, apiKey: KEY, http: up.http });
    const chunks = await collect(await p.chatStream(req({ stream: true }), ctxFor('deepseek-flash')));
    expect(chunks.map((c) => c.choices[0]?.delta.reasoning_content ?? c.choices[0]?.delta.content ?? null)).toEqual(['th', 'ok', null]);
    expect(chunks[2].usage?.prompt_tokens_details?.cached_tokens).toBe(3);
  });

  it('402 insufficient balance → insufficient_quota', async () => {
    up.server.respond((_r, res) => sendJson(res, 402, { error: { message: 'Insufficient Balance', type: 'unknown_error', param: null, code: 'invalid_request_error' } }));
    const e = await upstreamError(createDeepSeekProvider({ baseUrl: up.server.url, apiKey: KEY, http: up.http }).chat(req(), ctxFor('deepseek-flash')));
    expect([e.kind, e.status, e.code, e.type]).toEqual(['http', 402, 'insufficient_quota', 'insufficient_quota']);
  });
});

describe('connection pool', () => {
  it('sequential calls reuse keep-alive connections instead of opening one per call', async () => {
    const own = await startCaptureServer();
    own.respond((_r, res) => sendJson(res, 200, completion));
    try {
      const p = createOpenAIProvider({ baseUrl: own.url, apiKey: KEY, http: up.http });
      for (let i = 0; i < 10; i++) await p.chat(req(), ctxFor('m'));
      expect(own.requests.length).toBe(10);
      // undici may open a second socket while the first one finishes its previous answer; never one per call.
      expect(own.connections()).toBeLessThanOrEqual(2);
    } finally {
      await own.close();
    }
  });
});

describe('network failures', () => {
  it('connection refused → kind connect', async () => {
    const dead = await startCaptureServer();
    const url = dead.url;
    await dead.close();
    const e = await upstreamError(createOpenAIProvider({ baseUrl: url, apiKey: KEY, http: up.http }).chat(req(), ctxFor('m')));
    expect([e.kind, e.retryable]).toEqual(['connect', true]);
  });

  it('aborting the signal cancels the upstream request (the server sees the connection close)', async () => {
    up.server.respond(() => {}); // never answers
    const ac = new AbortController();
    const p = createOpenAIProvider({ baseUrl: up.server.url, apiKey: KEY, http: up.http }).chat(req(), ctxFor('m', ac));
    await expect.poll(() => up.server.requests.length, { timeout: 10_000 }).toBe(1);
    ac.abort();
    const e = await upstreamError(p);
    expect(e.kind).toBe('aborted');
    await up.server.requests[0].closed;
  });

  it('a stream that goes silent longer than the idle timeout → kind timeout', async () => {
    up.server.respond((_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"id":"a","choices":[]}\n\n');
    });
    const quick = createUpstreamHttp({ ...httpOptions, bodyIdleTimeoutMs: 200 });
    try {
      const p = createOpenAIProvider({ baseUrl: up.server.url, apiKey: KEY, http: quick });
      const e = await upstreamError(collect(await p.chatStream(req({ stream: true }), ctxFor('m'))));
      expect(e.kind).toBe('timeout');
    } finally {
      await quick.close();
    }
  });

  it('a non-stream answer cut after its headers → kind stream (the answer was cut), not a parse error', async () => {
    up.server.respond((_r, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
      res.write('{"id":"chatcmpl-1","choices":[');
      setTimeout(() => res.socket?.destroy(), 20);
    });
    const e = await upstreamError(createOpenAIProvider({ baseUrl: up.server.url, apiKey: KEY, http: up.http }).chat(req(), ctxFor('m')));
    expect(e.kind).toBe('stream');
  });

  it('a non-stream answer in several pieces, with a byte-order mark, is read whole', async () => {
    const body = JSON.stringify({ id: 'chatcmpl-2', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'héllo wörld' }, finish_reason: 'stop' }], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } });
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body)]);
    up.server.respond(async (_r, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      // Split inside a multi-byte character: the pieces are decoded together.
      const cut = bytes.indexOf(Buffer.from('ö')) + 1;
      res.write(bytes.subarray(0, cut));
      await new Promise((r) => setTimeout(r, 20));
      res.end(bytes.subarray(cut));
    });
    const c = await createOpenAIProvider({ baseUrl: up.server.url, apiKey: KEY, http: up.http }).chat(req(), ctxFor('m'));
    expect(c.choices[0].message.content).toBe('héllo wörld');
  });

  it('a whole answer read as a web stream passes every piece on, also those arriving after it was opened', async () => {
    up.server.respond(async (_r, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      for (const piece of ['{"a":', '1,"b":', '2}']) {
        res.write(piece);
        await new Promise((r) => setTimeout(r, 30));
      }
      res.end();
    });
    const ac = new AbortController();
    const res = await up.http.request({ provider: 'openai', url: `${up.server.url}/x`, headers: {}, body: '{}', signal: ac.signal, abort: (r) => ac.abort(r), wholeAnswerDeadline: true });
    const text = await new Response(res.toWeb()).text();
    expect(JSON.parse(text)).toEqual({ a: 1, b: 2 });
    expect(() => res.toWeb()).toThrow(/already consumed/);
  });

  it('a stream whose headers never come → kind timeout, and the deadline ends with the headers', async () => {
    up.server.respond(() => {}); // never answers
    const quick = createUpstreamHttp({ ...httpOptions, timeoutMs: 300, bodyIdleTimeoutMs: 5_000 });
    try {
      const p = createOpenAIProvider({ baseUrl: up.server.url, apiKey: KEY, http: quick });
      expect((await upstreamError(p.chatStream(req({ stream: true }), ctxFor('m')))).kind).toBe('timeout');
      // Headers at once, then events slower than the header deadline but within the idle timeout: the stream lives.
      up.server.respond(async (_r, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.flushHeaders();
        await new Promise((r) => setTimeout(r, 500));
        res.write('data: {"id":"a","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}\n\n');
        res.end('data: [DONE]\n\n');
      });
      const chunks = await collect(await p.chatStream(req({ stream: true }), ctxFor('m')));
      expect(chunks.map((c) => c.choices[0]?.delta?.content).join('')).toBe('hi');
    } finally {
      await quick.close();
    }
  });

  it('a non-stream answer that trickles past the deadline → kind timeout', async () => {
    up.server.respond((_r, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const t = setInterval(() => res.write(' '), 50);
      res.on('close', () => clearInterval(t));
    });
    const quick = createUpstreamHttp({ ...httpOptions, timeoutMs: 300 });
    try {
      const e = await upstreamError(createOpenAIProvider({ baseUrl: up.server.url, apiKey: KEY, http: quick }).chat(req(), ctxFor('m')));
      expect(e.kind).toBe('timeout');
    } finally {
      await quick.close();
    }
  });

  it('GatewayError from a request the adapter cannot send is not wrapped', async () => {
    const e = await caught(createDeepSeekProvider({ baseUrl: up.server.url, apiKey: KEY, http: up.http }).chat(req({ response_format: { type: 'json_schema', json_schema: { name: 'x' } } }), ctxFor('m')));
    expect(e).toBeInstanceOf(GatewayError);
    expect(up.server.requests.length).toBe(0);
  });
});

describe('stream path: events parsed as the bytes arrive', () => {
  const chunkEvent = (i: number, pad = '') =>
    `data: {"id":"a","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"${i}${pad}"},"finish_reason":null}]}\n\n`;
  const streamReq = (url: string, ac = new AbortController()) =>
    up.http.request({
      provider: 'openai',
      url: `${url}/chat/completions`,
      headers: { 'content-type': 'application/json' },
      body: '{}',
      signal: ac.signal,
      abort: (r) => ac.abort(r),
      wholeAnswerDeadline: false,
    });
  const parse = (d: string) => (d === '[DONE]' ? null : (JSON.parse(d) as { choices: { delta: { content: string } }[] }));
  const early = () => new Error('ended before [DONE]');

  it('sequential streams keep their connection: after [DONE] the answer is read to its end, not cut', async () => {
    const own = await startCaptureServer();
    // [DONE] first, the end of the chunked body a moment later (as it may come in another packet).
    own.respond((_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunkEvent(1) + chunkEvent(2) + 'data: [DONE]\n\n');
      setTimeout(() => res.end(), 20);
    });
    try {
      const p = createOpenAIProvider({ baseUrl: own.url, apiKey: KEY, http: up.http });
      for (let i = 0; i < 10; i++) {
        expect((await collect(await p.chatStream(req({ stream: true }), ctxFor('m')))).length).toBe(2);
        // The reader is done at [DONE]; the next call may reuse the connection once the body's end has come in.
        await own.requests[i].closed;
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(own.requests.length).toBe(10);
      expect(own.connections()).toBeLessThanOrEqual(2);
    } finally {
      await own.close();
    }
  });

  it('the events before an error event reach the reader first, then the error', async () => {
    up.server.respond((_r, res) => sendSse(res, [chunkEvent(1), chunkEvent(2), 'data: {"error":{"message":"overloaded","type":"server_error","code":"overloaded"}}\n\n', chunkEvent(3)]));
    const stream = await createOpenAIProvider({ baseUrl: up.server.url, apiKey: KEY, http: up.http }).chatStream(req({ stream: true }), ctxFor('m'));
    const seen: string[] = [];
    const e = await caught(
      (async () => {
        for await (const c of stream) seen.push(c.choices[0].delta.content ?? '');
      })(),
    );
    expect(seen).toEqual(['1', '2']);
    expect((e as { code?: string }).code).toBe('overloaded');
  });

  it('bytes that arrive before the reader asks for events are kept and parsed then, also when the answer has ended', async () => {
    up.server.respond((_r, res) => sendSse(res, [chunkEvent(1), chunkEvent(2)]));
    const done = await streamReq(up.server.url);
    await up.server.requests[0].closed; // the whole answer is in before anyone reads it
    const got = [];
    for await (const c of done.events(parse, early)) got.push(c.choices[0].delta.content);
    expect(got).toEqual(['1', '2']);

    up.server.requests.length = 0;
    up.server.respond((_r, res) => sendSse(res, [chunkEvent(1)], false));
    const cut = await streamReq(up.server.url);
    await up.server.requests[0].closed;
    const e = await caught(collect(cut.events(parse, early) as AsyncIterable<never>));
    expect((e as Error).message).toBe('ended before [DONE]');
  });

  it('thousands of events in one network chunk all reach the reader, in order', async () => {
    const n = 5000; // more than the queue keeps before compacting (1024)
    up.server.respond((_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(Array.from({ length: n }, (_, i) => `data: {"i":${i}}\n\n`).join('') + 'data: [DONE]\n\n');
    });
    const res = await streamReq(up.server.url);
    const seen: number[] = [];
    for await (const e of res.events((d) => (d === '[DONE]' ? null : (JSON.parse(d) as { i: number })), early)) seen.push(e.i);
    expect(seen).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it('backpressure: a reader that stops reading stops the upstream socket, and gets every event when it reads again', { timeout: 60_000 }, async () => {
    const own = await startCaptureServer();
    const total = 32_000; // ~ 32 MB of events: far more than socket buffers and the queue hold
    const pad = 'x'.repeat(900);
    let written = 0;
    let finished = false;
    own.respond(async (_r, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let i = 0; i < total; i++) {
        written = i + 1;
        if (!res.write(chunkEvent(i, pad))) await new Promise((r) => res.once('drain', r));
      }
      res.end('data: [DONE]\n\n');
      finished = true;
    });
    try {
      const ac = new AbortController();
      const res = await up.http.request({
        provider: 'openai',
        url: `${own.url}/chat/completions`,
        headers: {},
        body: '{}',
        signal: ac.signal,
        abort: (r) => ac.abort(r),
        wholeAnswerDeadline: false,
      });
      const it = res.events(parse, early)[Symbol.asyncIterator]();
      expect((await it.next()).done).toBe(false);
      // The writer stalls once the reader stops: wait until its progress stops moving.
      let last = -1;
      await expect
        .poll(
          () => {
            const moved = written !== last;
            last = written;
            return moved;
          },
          { interval: 300, timeout: 20_000 },
        )
        .toBe(false);
      expect(finished).toBe(false);
      expect(written).toBeLessThan(total);
      let n = 1;
      for (let r = await it.next(); !r.done; r = await it.next()) n++;
      expect(n).toBe(total);
      expect(finished).toBe(true);
    } finally {
      await own.close();
    }
  });
});
