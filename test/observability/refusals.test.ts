// Every /v1 request the gateway answers is accounted for exactly once: a ledger row (tollgate_requests_total) when it
// was admitted, else tollgate_refused_requests_total. A known mix through real HTTP, Postgres and Redis, checked request
// by request against the ledger and label by label against /metrics.
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { createMetrics, v1RouteOf, v1Routes, OTHER, type RequestAnswer } from '../../src/metrics/metrics.js';
import type { FileConfig } from '../../src/config/schema.js';
import type { LedgerEvent } from '../../src/metering/ledger-event.js';
import { startHarness, type Harness } from '../support/harness.js';
import { parseExposition, sumOf, type Sample } from './support.js';

const clock = () => new Date('2026-11-25T12:00:00Z');
const BODY_LIMIT = 64 * 1024;
const AUTH_FAILURES = 3;
const server: FileConfig['server'] = {
  body_limit_bytes: BODY_LIMIT,
  max_messages: 64,
  max_header_bytes: 16 * 1024,
  request_timeout_ms: 30_000,
  shutdown_grace_ms: 1000,
  log_prompts: false,
  auth_failures_per_minute: AUTH_FAILURES,
};

/** One request of the mix and what it must get: `metered` = admitted (a ledger row), else refused. */
interface Sent {
  what: string;
  status: number;
  /** The src/errors.ts code of a refusal (the label), null for a metered request. */
  code: string | null;
  tenant: string;
  route: string;
  requestId: string | null;
  got: number;
  body: string;
}

let h: Harness;
let sql: postgres.Sql;
const sent: Sent[] = [];
let main: { name: string; key: string };
let limited: { name: string; key: string };

async function call(
  what: string,
  expected: { status: number; code?: string; tenant?: string },
  path: string,
  init: { key?: string | null; method?: string; body?: string | object } = {},
): Promise<Sent> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const key = init.key === undefined ? main.key : init.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const body = init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
  const res = await fetch(`${h.baseURL}${path}`, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body });
  const text = await res.text(); // a stream is read to its end
  const s: Sent = {
    what,
    status: expected.status,
    code: expected.code ?? null,
    tenant: expected.tenant ?? main.name,
    route: `/v1${path.split('?')[0]}`,
    requestId: res.headers.get('x-request-id'),
    got: res.status,
    body: text.slice(0, 300),
  };
  sent.push(s);
  return s;
}

const ask = (model: string, content = 'hi', extra: Record<string, unknown> = {}) => ({ model, max_tokens: 8, messages: [{ role: 'user', content }], ...extra });

async function scrape(): Promise<Sample[]> {
  return parseExposition(await (await fetch(`${h.url}/metrics`)).text());
}

beforeAll(async () => {
  h = await startHarness({
    clock,
    store: 'postgres',
    redis: true,
    sim: { latencyMs: 0, ttftMs: 0, chunkDelayMs: 0, defaultOutputTokens: 5 },
    // One upstream failure opens a model's circuit, and it stays open for the whole file.
    overrides: { server, circuit: { failures: 1, window_ms: 600_000, open_ms: 600_000 } },
  });
  sql = h.sql();
  const a = await h.createTenant('refusals-main', { routes: { only_mini: { strategy: 'cheapest', models: ['gpt-4o-mini'] } } });
  const b = await h.createTenant('refusals-limited', { rate_limits: { tenant: { rpm: 2 } } });
  main = { name: 'refusals-main', key: a.key };
  limited = { name: 'refusals-limited', key: b.key };

  // Served (metered, status 200).
  await call('chat', { status: 200 }, '/chat/completions', { body: ask('deepseek-flash') });
  await call('chat stream', { status: 200 }, '/chat/completions', { body: ask('gemini-2.5-flash', 'stream', { stream: true, stream_options: { include_usage: true } }) });
  await call('embeddings', { status: 200 }, '/embeddings', { body: { model: 'text-embedding-3-small', input: 'hello' } });
  await call('responses', { status: 200 }, '/responses', { body: { model: 'gpt-4.1', input: 'hello', max_output_tokens: 16 } });
  // Refused before admission.
  await call('bad JSON', { status: 400, code: 'invalid_json' }, '/chat/completions', { body: '{"model": "gpt-4o-mini", "messages": [' });
  await call('no messages', { status: 400, code: 'invalid_request' }, '/chat/completions', { body: { model: 'gpt-4o-mini' } });
  await call('too large', { status: 413, code: 'request_too_large' }, '/chat/completions', { body: ask('gpt-4o-mini', 'x'.repeat(BODY_LIMIT)) });
  await call('no key', { status: 401, code: 'invalid_api_key', tenant: '-' }, '/chat/completions', { key: null, body: ask('gpt-4o-mini') });
  await call('bad key', { status: 401, code: 'invalid_api_key', tenant: '-' }, '/chat/completions', { key: 'tg_not_a_key', body: ask('gpt-4o-mini') });
  await call('unknown model', { status: 404, code: 'model_not_found' }, '/chat/completions', { body: ask('no-such-model') });
  await call('unknown model (embeddings)', { status: 404, code: 'model_not_found' }, '/embeddings', { body: { model: 'no-such-model', input: 'x' } });
  await call('unknown model (GET)', { status: 404, code: 'model_not_found', tenant: main.name }, '/models/no-such-model');
  await call('unknown path', { status: 404, code: 'not_found' }, '/no/such/path', { body: {} });
  await call('bad spend query', { status: 400, code: 'invalid_request' }, '/spend?group_by=bogus');
  await call('unknown stored response', { status: 404, code: 'not_found' }, '/responses/resp_nope');
  // Failures after admission: metered (a ledger row with the error status), never refused.
  await call('upstream 500 (chat)', { status: 500 }, '/chat/completions', { body: ask('gpt-4o-mini', '[[sim:fault=status:500]] fail') });
  await call('upstream 500 (responses)', { status: 500 }, '/responses', { body: { model: 'gpt-4.1-mini', input: '[[sim:fault=status:500]] fail', max_output_tokens: 16 } });
  h.sim.setFaults([{ provider: 'openai', model: 'text-embedding-3-large', fault: { type: 'status', status: 503 }, times: 1 }]);
  await call('upstream 503 (embeddings)', { status: 503 }, '/embeddings', { body: { model: 'text-embedding-3-large', input: 'fail' } });
  h.sim.clearFaults();
  // The router refuses: the only models allowed have their circuit open.
  await call('pinned model, circuit open', { status: 503, code: 'provider_not_configured' }, '/chat/completions', { body: ask('gpt-4o-mini') });
  await call('route alias, every circuit open', { status: 503, code: 'service_unavailable' }, '/chat/completions', { body: ask('only_mini') });
  // A tenant over its rate limit (Redis).
  await call('under the limit', { status: 200, tenant: limited.name }, '/chat/completions', { key: limited.key, body: ask('deepseek-flash') });
  await call('under the limit', { status: 200, tenant: limited.name }, '/chat/completions', { key: limited.key, body: ask('deepseek-flash') });
  await call('over the limit', { status: 429, code: 'rate_limit_exceeded', tenant: limited.name }, '/chat/completions', { key: limited.key, body: ask('deepseek-flash') });
  // Last (it locks this address out for a minute): the per-IP failed-auth limit answers without a key check.
  for (let i = 1; i < AUTH_FAILURES; i++) await call('bad key', { status: 401, code: 'invalid_api_key', tenant: '-' }, '/chat/completions', { key: `tg_wrong_${i}`, body: ask('gpt-4o-mini') });
  await call('failed-auth limit', { status: 429, code: 'too_many_auth_failures', tenant: '-' }, '/chat/completions', { body: ask('deepseek-flash') });
}, 120_000);

afterAll(async () => {
  await h?.close();
});

async function ledgerIds(): Promise<Map<string, number>> {
  await h.flushLedger();
  const rows = await sql<Array<{ request_id: string; status: number }>>`select request_id, status from usage_ledger`;
  return new Map(rows.map((r) => [r.request_id, r.status]));
}

describe('tollgate_refused_requests_total against the ledger (real HTTP, Postgres, Redis)', () => {
  it('answers the mix as planned', () => {
    for (const s of sent) expect(s.got, `${s.what}: ${s.body}`).toBe(s.status);
    for (const s of sent) expect(s.requestId, s.what).toMatch(/^req_/);
    expect(sent.filter((s) => s.code === null).length).toBe(9);
    expect(sent.filter((s) => s.code !== null).length).toBe(17);
  });

  it('accounts for every request sent: ledger rows + refused = sent, request by request', async () => {
    let ledger = new Map<string, number>();
    let samples: Sample[] = [];
    // A stream is metered when it ends, just after the client read its last byte.
    await expect
      .poll(async () => {
        ledger = await ledgerIds();
        samples = await scrape();
        return sumOf(samples, 'tollgate_requests_total') === ledger.size && ledger.size === sent.filter((s) => s.code === null).length;
      }, { timeout: 10_000 })
      .toBe(true);
    const refused = sumOf(samples, 'tollgate_refused_requests_total');
    expect(ledger.size + refused).toBe(sent.length);
    for (const s of sent) {
      // Metered ones have their row with the status the client saw; refused ones have none.
      if (s.code === null) expect(ledger.get(s.requestId!), s.what).toBe(s.status);
      else expect(ledger.has(s.requestId!), s.what).toBe(false);
    }
  });

  it('counts each refusal once under its tenant, route, status and code', async () => {
    const expected = new Map<string, number>();
    for (const s of sent.filter((x) => x.code !== null)) {
      const k = [s.tenant, v1RouteOf(s.route), String(s.status), s.code].join(' ');
      expected.set(k, (expected.get(k) ?? 0) + 1);
    }
    const got = new Map<string, number>();
    for (const x of (await scrape()).filter((y) => y.name === 'tollgate_refused_requests_total' && y.value > 0)) {
      got.set([x.labels.tenant, x.labels.route, x.labels.status, x.labels.code].join(' '), x.value);
    }
    expect(Object.fromEntries([...got].sort())).toEqual(Object.fromEntries([...expected].sort()));
    // Spot checks of the labels themselves.
    expect(got.get('- /v1/chat/completions 401 invalid_api_key')).toBe(AUTH_FAILURES + 1);
    expect(got.get('- /v1/chat/completions 429 too_many_auth_failures')).toBe(1);
    expect(got.get('refusals-main /v1/models/:id 404 model_not_found')).toBe(1);
    expect(got.get('refusals-main other 404 not_found')).toBe(1);
    expect(got.get('refusals-main /v1/spend 400 invalid_request')).toBe(1);
    expect(got.get('refusals-limited /v1/chat/completions 429 rate_limit_exceeded')).toBe(1);
    expect(got.get('refusals-main /v1/chat/completions 503 service_unavailable')).toBe(1);
    expect(got.get('refusals-main /v1/chat/completions 503 provider_not_configured')).toBe(1);
  });

  it('does not count failures after admission (chat, responses, embeddings): they are metered', async () => {
    const samples = await scrape();
    const failed = sent.filter((s) => s.code === null && s.status >= 400);
    expect(failed.map((s) => s.status).sort()).toEqual([500, 500, 503]);
    expect(sumOf(samples, 'tollgate_refused_requests_total', { code: 'upstream_error' })).toBe(0);
    expect(sumOf(samples, 'tollgate_refused_requests_total', { status: '500' })).toBe(0);
    expect(sumOf(samples, 'tollgate_requests_total', { status: '500' })).toBe(2);
    expect(sumOf(samples, 'tollgate_requests_total', { status: '503' })).toBe(1);
    // The only refused 503s are the router's two.
    expect(sumOf(samples, 'tollgate_refused_requests_total', { status: '503' })).toBe(2);
  });
});

describe('refusal accounting in the registry', () => {
  it('labels every /v1 route of the app as itself, and anything else as other', () => {
    const app = createApp(h.built.deps);
    const paths = app.routes.filter((r) => r.method !== 'ALL' && r.path.startsWith('/v1/')).map((r) => r.path);
    expect(paths.length).toBeGreaterThanOrEqual(8);
    for (const p of paths) {
      const concrete = p.replace(/:[a-z]+(\{[^}]*\})?/gi, 'some-id');
      expect(v1RouteOf(concrete), p).not.toBe(OTHER);
      expect(v1Routes as readonly string[], p).toContain(v1RouteOf(concrete));
    }
    for (const p of ['/v1/chat/completions/', '/v1/nope', '/v1/responses/a/b', '/v1/models/', '/admin/tenants', '/v1']) expect(v1RouteOf(p), p).toBe(OTHER);
  });

  it('counts an error answer once unless a ledger event of the same request id was recorded before it', async () => {
    const m = createMetrics({ maxTenantLabels: 5, defaultMetrics: false });
    const answer = (status: number, code: string, tenant: string | null = 't'): RequestAnswer => ({ tenant, path: '/v1/embeddings', status, code });
    const run = (id: string, a: RequestAnswer, meteredStatus: number | null) => {
      m.requestStarted(id);
      if (meteredStatus !== null) m.recordRequest(eventOf(id, meteredStatus), 't');
      return m.requestAnswered(id, a);
    };
    expect(run('r1', answer(429, 'rate_limit_exceeded'), null)).toBe(true);
    expect(run('r2', answer(502, 'upstream_error'), 502)).toBe(false); // metered failure
    expect(run('r3', answer(200, ''), 200)).toBe(false); // served
    expect(run('r4', answer(401, 'invalid_api_key', null), null)).toBe(true);
    expect(run('r5', answer(400, 'not-a-code'), null)).toBe(true);
    // A stream metered after its answer went out does not mark a later request.
    m.recordRequest(eventOf('r6', 200), 't');
    expect(run('r7', answer(503, 'service_unavailable'), null)).toBe(true);
    const samples = parseExposition(await m.metricsText());
    expect(sumOf(samples, 'tollgate_refused_requests_total')).toBe(4);
    expect(sumOf(samples, 'tollgate_refused_requests_total', { tenant: '-', code: 'invalid_api_key' })).toBe(1);
    expect(sumOf(samples, 'tollgate_refused_requests_total', { code: 'other', status: '400' })).toBe(1);
    expect(sumOf(samples, 'tollgate_requests_total')).toBe(3);
    expect(sumOf(samples, 'tollgate_refused_requests_total', { route: '/v1/embeddings', status: '503', code: 'service_unavailable' })).toBe(1);
  });
});

function eventOf(requestId: string, status: number): LedgerEvent {
  return {
    requestId,
    tenantId: 't',
    keyId: null,
    endpoint: 'chat',
    route: null,
    provider: 'openai',
    model: 'gpt-4o-mini',
    stream: false,
    inputTokens: 1,
    cachedInputTokens: 0,
    outputTokens: 1,
    reasoningTokens: 0,
    usageSource: 'reported',
    costPico: 1n,
    baselineCostPico: 1n,
    savedResponseCachePico: 0n,
    savedPromptCachePico: 0n,
    savedOffPeakPico: 0n,
    priceVersion: null,
    status,
    outcome: status < 400 ? 'ok' : 'error',
    errorCode: status < 400 ? null : 'upstream_error',
    cacheHit: false,
    attempts: [],
    latencyMs: 1,
    ttftMs: null,
    startedAt: new Date(0),
  };
}
