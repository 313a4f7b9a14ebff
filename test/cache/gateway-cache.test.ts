// The response cache through the whole gateway (openai SDK, simulator upstreams, real Postgres and Redis): hits, misses,
// replayed streams, tenant isolation, the request header, the determinism rule, a failing cache, and how a hit is metered.
import OpenAI from 'openai';
import type postgres from 'postgres';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisCache } from '../../src/cache/redis-cache.js';
import { responseCacheKey } from '../../src/cache/key.js';
import { chatRequestSchema } from '../../src/api/openai.js';
import { usdToPico } from '../../src/metering/money.js';
import type { ResponseCache } from '../../src/cache/interface.js';
import { startHarness, type Harness } from '../support/harness.js';
import { uniqueId } from '../support/services.js';

const NOW = new Date('2026-11-25T12:00:00Z');
let h: Harness;
let sql: postgres.Sql;
let a: { id: string; key: string; client: OpenAI };
let b: { id: string; key: string; client: OpenAI };
let nondet: { id: string; key: string; client: OpenAI };

const cachePolicy = { cache: { enabled: true, ttl_seconds: 600 } };
async function tenant(name: string, policy: object) {
  const { tenant: t, key } = await h.createTenant(`${name}-${uniqueId()}`, policy);
  return { id: t.id, key, client: new OpenAI({ baseURL: h.baseURL, apiKey: key, maxRetries: 0 }) };
}

beforeAll(async () => {
  h = await startHarness({ redis: true, clock: () => NOW });
  sql = h.sql();
  a = await tenant('cache-a', cachePolicy);
  b = await tenant('cache-b', cachePolicy);
  nondet = await tenant('cache-nondet', { cache: { enabled: true, nondeterministic: true } });
});
afterAll(async () => {
  await h?.close();
});

const question = (topic: string) => [{ role: 'user' as const, content: `Tell me one fact about ${topic} (${uniqueId()}).` }];
const upstreamCalls = () => h.sim.records().length;

/** A streamed answer is stored when the stream ends, off the response path: wait (bounded) until its entry exists. */
async function storedFor(tenantId: string, body: object): Promise<void> {
  const key = responseCacheKey(tenantId, chatRequestSchema.parse(body));
  for (let i = 0; i < 200; i++) {
    if (await h.built.deps.responseCache.get(key)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('the answer was never stored');
}

interface Row {
  request_id: string;
  cost_pico: string;
  saved_response_cache_pico: string;
  baseline_cost_pico: string;
  cache_hit: boolean;
  outcome: string;
  input_tokens: number;
  model: string | null;
}
async function ledgerRow(requestId: string | null): Promise<Row> {
  await h.flushLedger();
  const [r] = await sql<Row[]>`select request_id, cost_pico::text, saved_response_cache_pico::text, baseline_cost_pico::text,
    cache_hit, outcome, input_tokens, model from usage_ledger where request_id = ${requestId ?? ''}`;
  return r;
}

describe('response cache: JSON', () => {
  it('answers a repeated request from the cache: same body, no upstream call, cost 0, original cost saved', async () => {
    const messages = question('rivers');
    const first = await a.client.chat.completions.create({ model: 'gpt-4o-mini', messages, temperature: 0 }).withResponse();
    expect(first.response.headers.get('x-tollgate-cache')).toBe('miss');
    const calls = upstreamCalls();

    const second = await a.client.chat.completions.create({ model: 'gpt-4o-mini', messages, temperature: 0, user: 'someone-else' }).withResponse();
    expect(second.response.headers.get('x-tollgate-cache')).toBe('hit');
    expect(upstreamCalls()).toBe(calls);
    expect(second.data).toEqual(first.data);
    expect(second.response.headers.get('x-tollgate-model')).toBe('gpt-4o-mini');
    expect(usdToPico(second.response.headers.get('x-tollgate-cost-usd') ?? 'x')).toBe(0n);

    const original = await ledgerRow(first.response.headers.get('x-request-id'));
    const hit = await ledgerRow(second.response.headers.get('x-request-id'));
    expect(BigInt(original.cost_pico)).toBeGreaterThan(0n);
    expect(original.cache_hit).toBe(false);
    expect(hit).toMatchObject({ cache_hit: true, outcome: 'cache_hit', cost_pico: '0', input_tokens: 0, model: 'gpt-4o-mini' });
    expect(hit.saved_response_cache_pico).toBe(original.cost_pico);
    expect(hit.baseline_cost_pico).toBe(original.baseline_cost_pico);

    // The tenant's spend report attributes the saving to the response cache.
    const res = await fetch(`${h.baseURL}/spend?group_by=tenant`, { headers: { authorization: `Bearer ${a.key}` } });
    const report = (await res.json()) as { totals: { cache_hits: number; savings: { response_cache_usd: string; routing_usd: string } } };
    expect(report.totals.cache_hits).toBeGreaterThanOrEqual(1);
    expect(usdToPico(report.totals.savings.response_cache_usd)).toBeGreaterThanOrEqual(BigInt(original.cost_pico));
  });

  it('never answers tenant B from tenant A’s entry', async () => {
    const messages = question('mountains');
    await a.client.chat.completions.create({ model: 'gpt-4o-mini', messages, temperature: 0 });
    const calls = upstreamCalls();
    const other = await b.client.chat.completions.create({ model: 'gpt-4o-mini', messages, temperature: 0 }).withResponse();
    expect(other.response.headers.get('x-tollgate-cache')).toBe('miss');
    expect(upstreamCalls()).toBe(calls + 1);
    const again = await b.client.chat.completions.create({ model: 'gpt-4o-mini', messages, temperature: 0 }).withResponse();
    expect(again.response.headers.get('x-tollgate-cache')).toBe('hit');
  });

  it('no-store neither reads nor writes; max-age refuses older entries', async () => {
    const messages = question('lakes');
    const noStore = { headers: { 'x-tollgate-cache': 'no-store' } };
    await a.client.chat.completions.create({ model: 'gpt-4o-mini', messages, temperature: 0 }, noStore);
    const calls = upstreamCalls();
    const miss = await a.client.chat.completions.create({ model: 'gpt-4o-mini', messages, temperature: 0 }).withResponse();
    expect(miss.response.headers.get('x-tollgate-cache')).toBe('miss'); // the no-store answer was not kept
    expect(upstreamCalls()).toBe(calls + 1);
    const bypass = await a.client.chat.completions.create({ model: 'gpt-4o-mini', messages, temperature: 0 }, noStore).withResponse();
    expect(bypass.response.headers.get('x-tollgate-cache')).toBe('bypass');
    expect(upstreamCalls()).toBe(calls + 2);

    // The entry was stored at NOW (the injected clock); the clock does not move, so max-age=0 accepts only age 0.
    const fresh = await a.client.chat.completions.create({ model: 'gpt-4o-mini', messages, temperature: 0 }, { headers: { 'x-tollgate-cache': 'max-age=60' } }).withResponse();
    expect(fresh.response.headers.get('x-tollgate-cache')).toBe('hit');
  });

  it('max-age: an entry older than N seconds is a miss', async () => {
    let now = NOW.getTime();
    const hh = await startHarness({ redis: true, clock: () => new Date(now) });
    try {
      const { key } = await hh.createTenant(`aging-${uniqueId()}`, cachePolicy);
      const client = new OpenAI({ baseURL: hh.baseURL, apiKey: key, maxRetries: 0 });
      const messages = question('glaciers');
      await client.chat.completions.create({ model: 'gpt-4o-mini', messages, temperature: 0 });
      now += 120_000;
      const old = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, temperature: 0 }, { headers: { 'x-tollgate-cache': 'max-age=60' } }).withResponse();
      expect(old.response.headers.get('x-tollgate-cache')).toBe('miss');
      const any = await client.chat.completions.create({ model: 'gpt-4o-mini', messages, temperature: 0 }).withResponse();
      expect(any.response.headers.get('x-tollgate-cache')).toBe('hit');
    } finally {
      await hh.close();
    }
  });

  it('caches sampling without a seed only for tenants that allow it', async () => {
    const messages = question('deserts');
    for (const t of [a, nondet]) {
      await t.client.chat.completions.create({ model: 'gpt-4o-mini', messages, temperature: 0.8 });
      const again = await t.client.chat.completions.create({ model: 'gpt-4o-mini', messages, temperature: 0.8 }).withResponse();
      expect(again.response.headers.get('x-tollgate-cache')).toBe(t === a ? 'bypass' : 'hit');
    }
    const seeded = question('forests');
    await a.client.chat.completions.create({ model: 'gpt-4o-mini', messages: seeded, temperature: 0.8, seed: 4 });
    const hit = await a.client.chat.completions.create({ model: 'gpt-4o-mini', messages: seeded, temperature: 0.8, seed: 4 }).withResponse();
    expect(hit.response.headers.get('x-tollgate-cache')).toBe('hit');
  });

  it('does not store an answer cut at max tokens', async () => {
    const messages = question('oceans');
    const cut = await a.client.chat.completions.create({ model: 'gpt-4o-mini', messages, temperature: 0, max_tokens: 3 });
    expect(cut.choices[0].finish_reason).toBe('length');
    const again = await a.client.chat.completions.create({ model: 'gpt-4o-mini', messages, temperature: 0, max_tokens: 3 }).withResponse();
    expect(again.response.headers.get('x-tollgate-cache')).toBe('miss');
  });
});

describe('response cache: limits and budgets', () => {
  it('a hit counts against the request rate limit but reserves no budget and charges no tokens', async () => {
    const t = await tenant('cache-budget', { ...cachePolicy, budgets: { daily: { limit_usd: '5', mode: 'hard' } }, rate_limits: { tenant: { rpm: 50 } } });
    const limiter = h.built.deps.limiter;
    const admits: Array<{ tenantId: string; reservePico: bigint; tokens: number }> = [];
    const original = limiter.admit.bind(limiter);
    limiter.admit = async (r) => {
      admits.push({ tenantId: r.tenantId, reservePico: r.reservePico, tokens: r.tokens });
      return original(r);
    };
    try {
      const messages = question('comets');
      const miss = await t.client.chat.completions.create({ model: 'gpt-4o-mini', messages, temperature: 0 }).withResponse();
      const hit = await t.client.chat.completions.create({ model: 'gpt-4o-mini', messages, temperature: 0 }).withResponse();
      expect(hit.response.headers.get('x-tollgate-cache')).toBe('hit');
      const mine = admits.filter((x) => x.tenantId === t.id);
      expect(mine).toHaveLength(2);
      expect(mine[0].reservePico).toBeGreaterThan(0n);
      expect(mine[0].tokens).toBeGreaterThan(0);
      expect(mine[1]).toMatchObject({ reservePico: 0n, tokens: 0 });
      const remaining = (r: Response) => Number(r.headers.get('x-ratelimit-remaining-requests'));
      expect(remaining(hit.response)).toBe(remaining(miss.response) - 1);
    } finally {
      limiter.admit = original;
    }
  });
});

describe('response cache: streams', () => {
  it('replays a streamed answer as a stream the SDK reads, with usage only when asked', async () => {
    const messages = question('volcanoes');
    const read = async (includeUsage: boolean) => {
      const { data, response } = await a.client.chat.completions
        .create({ model: 'deepseek-flash', messages, temperature: 0, stream: true, ...(includeUsage ? { stream_options: { include_usage: true } } : {}) })
        .withResponse();
      let text = '';
      let usage: OpenAI.CompletionUsage | null | undefined;
      let finish: string | null = null;
      for await (const chunk of data) {
        text += chunk.choices[0]?.delta?.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
        if (chunk.usage) usage = chunk.usage;
      }
      return { text, usage, finish, cache: response.headers.get('x-tollgate-cache') };
    };
    const first = await read(true);
    expect(first.cache).toBe('miss');
    await storedFor(a.id, { model: 'deepseek-flash', messages, temperature: 0 });
    const calls = upstreamCalls();
    const replay = await read(true);
    const plain = await read(false);
    expect(upstreamCalls()).toBe(calls);
    expect(replay).toEqual({ ...first, cache: 'hit' });
    expect(plain).toMatchObject({ text: first.text, usage: undefined, finish: 'stop', cache: 'hit' });

    // The same request without stream is a hit too, assembled from the stored chunks.
    const json = await a.client.chat.completions.create({ model: 'deepseek-flash', messages, temperature: 0 }).withResponse();
    expect(json.response.headers.get('x-tollgate-cache')).toBe('hit');
    expect(json.data.choices[0].message.content).toBe(first.text);
    expect(json.data.usage?.completion_tokens).toBe(first.usage?.completion_tokens);
  });

  it('streams a hit that was stored from a JSON answer', async () => {
    const messages = question('canyons');
    const full = await a.client.chat.completions.create({ model: 'gemini-2.5-flash', messages, temperature: 0 });
    const calls = upstreamCalls();
    const stream = await a.client.chat.completions.create({ model: 'gemini-2.5-flash', messages, temperature: 0, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text).toBe(full.choices[0].message.content);
    expect(upstreamCalls()).toBe(calls);
  });
});

describe('response cache: failures', () => {
  it('a Redis cache that fails is a miss counted as an error, and the request is still served', async () => {
    const dead = new Redis('redis://127.0.0.1:1', { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
    dead.on('error', () => {});
    const real: ResponseCache = h.built.deps.responseCache;
    h.built.deps.responseCache = createRedisCache({ redis: dead, timeoutMs: 200 });
    try {
      const messages = question('islands');
      for (let i = 0; i < 2; i++) {
        const r = await a.client.chat.completions.create({ model: 'gpt-4o-mini', messages, temperature: 0 }).withResponse();
        expect(r.response.status).toBe(200);
        expect(r.response.headers.get('x-tollgate-cache')).toBe('miss');
        expect(r.data.choices[0].message.content?.length).toBeGreaterThan(0);
      }
      const scrape = await (await fetch(`${h.url}/metrics`)).text();
      const line = scrape.split('\n').find((l) => l.startsWith('tollgate_cache_requests_total') && l.includes('result="error"'));
      expect(Number(line?.split(' ').at(-1))).toBeGreaterThanOrEqual(2);
    } finally {
      h.built.deps.responseCache = real;
      dead.disconnect();
    }
  });
});
