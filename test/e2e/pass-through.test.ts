// An answer or stream chunk the adapter did not change leaves the gateway as the upstream wrote it (no second
// JSON.stringify); a chunk an adapter rewrote, or one whose `data:` spanned several lines, is serialised again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatRequestSchema } from '../../src/api/openai.js';
import { sseSource, type StreamOutcome } from '../../src/gateway/sse.js';
import { createDeepSeekProvider } from '../../src/providers/deepseek.js';
import { createOpenAIProvider } from '../../src/providers/openai.js';
import { completionText, type Provider } from '../../src/providers/types.js';
import { captureUpstream, sendJson, sendSse } from '../providers/capture-server.js';
import { ctxFor, httpOptions } from '../providers/contract.case.js';
import { startHarness, type Harness } from '../support/harness.js';

const up = captureUpstream(httpOptions);

/** The upstream's events, as written (each ends with its blank line). */
function upstream(events: string[]): void {
  up.server.respond((_r, res) => sendSse(res, events));
}

/** The upstream's whole answer, as written. */
function upstreamAnswer(text: string): void {
  up.server.respond((_r, res) => sendJson(res, 200, text));
}

/** The client's SSE text through the provider and the gateway's stream source, and what the gateway tallied. */
async function through(p: Provider, includeUsage: boolean): Promise<{ text: string; outcome: StreamOutcome }> {
  const req = chatRequestSchema.parse({ model: 'm', stream: true, messages: [{ role: 'user', content: 'x' }] });
  const it = (await p.chatStream(req, ctxFor('m')))[Symbol.asyncIterator]();
  const first = await it.next();
  let outcome: StreamOutcome | null = null;
  const src = sseSource({ first: first.value, rest: it, includeUsage, abortUpstream: () => {}, onDone: (o) => (outcome = o), provider: p.name });
  let text = '';
  for (let b = await src.pull(); b !== null; b = await src.pull()) text += new TextDecoder().decode(b);
  return { text, outcome: outcome! };
}

// Formatting JSON.stringify would not reproduce: a space after a colon, a \u escape, a float written 1.0.
const c1 = '{"id":"a","object":"chat.completion.chunk","created":1,"model":"m", "choices":[{"index":0,"delta":{"content":"caf\\u00e9"},"finish_reason":null,"x":1.0}],"usage":null}';
const c2 = '{"id":"a","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}';
const usage = '{"id":"a","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}';

describe("a stream chunk's bytes", () => {
  it('pass through as the upstream wrote them when the client asked for usage', async () => {
    upstream([`data: ${c1}\n\n`, `data: ${c2}\n\n`, `data: ${usage}\n\n`]);
    const { text, outcome } = await through(createOpenAIProvider({ baseUrl: up.server.url, apiKey: 'k', http: up.http }), true);
    expect(text).toBe(`data: ${c1}\n\ndata: ${c2}\n\ndata: ${usage}\n\ndata: [DONE]\n\n`);
    expect(outcome.outputParts).toEqual(['café']);
    expect(outcome.usage?.total_tokens).toBe(5);
  });

  it('lose only their trailing "usage":null for a client that did not ask for usage (the usage chunk is left out)', async () => {
    upstream([`data: ${c1}\n\n`, `data: ${c2}\n\n`, `data: ${usage}\n\n`]);
    const { text, outcome } = await through(createOpenAIProvider({ baseUrl: up.server.url, apiKey: 'k', http: up.http }), false);
    const cut = (s: string) => s.replace(',"usage":null}', '}');
    expect(text).toBe(`data: ${cut(c1)}\n\ndata: ${cut(c2)}\n\ndata: [DONE]\n\n`);
    expect(outcome.usage?.total_tokens).toBe(5); // metered all the same
  });

  it('are serialised again when the usage is not a trailing null, or the event spans several data lines', async () => {
    const withUsage = '{"id":"a","choices":[{"index":0,"delta":{"content":"y"},"finish_reason":"stop"}], "usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}';
    upstream([`data: {"id":"a",\ndata: "choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}\n\n`, `data: ${withUsage}\n\n`]);
    const { text } = await through(createOpenAIProvider({ baseUrl: up.server.url, apiKey: 'k', http: up.http }), false);
    expect(text).toBe(
      'data: {"id":"a","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}\n\n' +
        'data: {"id":"a","choices":[{"index":0,"delta":{"content":"y"},"finish_reason":"stop"}]}\n\n' +
        'data: [DONE]\n\n',
    );
  });

  it('are serialised again when the adapter rewrote the chunk (DeepSeek usage), and pass through when it did not', async () => {
    const ds = '{"id":"d","choices":[{"index":0,"delta":{"content":"z"},"finish_reason":null}], "usage":null}';
    const dsUsage = '{"id":"d","choices":[], "usage":{"prompt_tokens":4,"completion_tokens":1,"total_tokens":5,"prompt_cache_hit_tokens":3}}';
    upstream([`data: ${ds}\n\n`, `data: ${dsUsage}\n\n`]);
    const { text } = await through(createDeepSeekProvider({ baseUrl: up.server.url, apiKey: 'k', http: up.http }), true);
    const [first, second] = text.split('\n\n');
    expect(first).toBe(`data: ${ds}`); // usage null: the hook returned the chunk itself
    expect(JSON.parse(second.slice(6)).usage.prompt_tokens_details).toEqual({ cached_tokens: 3 });
    expect(second).not.toContain(', "usage"'); // written by JSON.stringify
  });
});

describe('DeepSeek, whose usage already carries cached_tokens', () => {
  const deepseek = () => createDeepSeekProvider({ baseUrl: up.server.url, apiKey: 'k', http: up.http });
  const fullUsage = '"usage":{"prompt_tokens":4,"completion_tokens":1,"total_tokens":5,"prompt_cache_hit_tokens":3,"prompt_cache_miss_tokens":1,"prompt_tokens_details":{"cached_tokens":3}}';

  it('its usage chunk passes through: the hook had nothing to fix', async () => {
    const ds = '{"id":"d","choices":[{"index":0,"delta":{"content":"z"},"finish_reason":null}], "usage":null}';
    const dsUsage = `{"id":"d","choices":[], ${fullUsage}}`;
    upstream([`data: ${ds}\n\n`, `data: ${dsUsage}\n\n`]);
    const { text, outcome } = await through(deepseek(), true);
    expect(text).toBe(`data: ${ds}\n\ndata: ${dsUsage}\n\ndata: [DONE]\n\n`);
    expect(outcome.usage?.prompt_tokens_details?.cached_tokens).toBe(3);
  });

  const answerOf = (text: string) => {
    upstreamAnswer(text);
    return deepseek().chat(chatRequestSchema.parse({ model: 'm', messages: [{ role: 'user', content: 'x' }] }), ctxFor('m'));
  };

  it('its whole answer passes through', async () => {
    const answer = `{"id":"d", "object":"chat.completion","created":1,"model":"deepseek-chat","choices":[{"index":0,"message":{"role":"assistant","content":"z"},"finish_reason":"stop"}],${fullUsage}}`;
    const c = await answerOf(answer);
    expect(completionText.get(c)).toBe(answer);
    expect(c.usage?.prompt_tokens_details?.cached_tokens).toBe(3);
  });

  it('an answer without cached_tokens is still fixed, and serialised again', async () => {
    const c = await answerOf('{"id":"d", "object":"chat.completion","created":1,"model":"deepseek-chat","choices":[],"usage":{"prompt_tokens":4,"completion_tokens":1,"total_tokens":5,"prompt_cache_hit_tokens":3}}');
    expect(completionText.get(c)).toBeUndefined();
    expect(c.usage?.prompt_tokens_details).toEqual({ cached_tokens: 3 });
  });
});

describe('through the gateway (OpenAI upstream)', () => {
  let h: Harness;
  let key: string;
  beforeAll(async () => {
    h = await startHarness({ store: 'pglite', env: { OPENAI_BASE_URL: up.server.url } });
    key = (await h.createTenant('pass-through')).key;
  });
  afterAll(async () => {
    await h?.close();
  });
  const ask = (stream: boolean) =>
    fetch(`${h.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', stream, messages: [{ role: 'user', content: 'x' }] }),
    });

  it('a whole answer is the upstream text, metered from its usage', async () => {
    const answer =
      '{"id":"chatcmpl-1", "object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"caf\\u00e9"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":1000,"total_tokens":2000}}';
    upstreamAnswer(`\n\n${answer}`); // DeepSeek-style keep-alive blank lines before the body are left out
    const res = await ask(false);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(answer);
    // gpt-4o-mini: $0.15 in + $0.60 out per million tokens.
    expect(res.headers.get('x-tollgate-cost-usd')).toBe('0.000750000000');
  });

  it('a stream is the upstream events, less the usage the client did not ask for', async () => {
    upstream([`data: ${c1}\n\n`, `data: ${c2}\n\n`, `data: ${usage}\n\n`]);
    const res = await ask(true);
    const cut = (s: string) => s.replace(',"usage":null}', '}');
    expect(await res.text()).toBe(`data: ${cut(c1)}\n\ndata: ${cut(c2)}\n\ndata: [DONE]\n\n`);
  });
});
