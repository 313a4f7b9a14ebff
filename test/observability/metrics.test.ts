// The metrics registry agrees with the ledger events it was fed: cost to float precision, tokens exactly, bounded labels.
import { describe, expect, it } from 'vitest';
import { createMetrics, upstreamErrorReason } from '../../src/metrics/metrics.js';
import { createMetricsRoute } from '../../src/metrics/route.js';
import { PICO_PER_USD } from '../../src/metering/money.js';
import type { LedgerEvent } from '../../src/metering/ledger-event.js';
import { parseExposition, prng, randomEvent, sumOf } from './support.js';

const known = new Set(['gpt-4o-mini', 'gpt-4.1', 'deepseek-flash', 'deepseek-v4-pro', 'gemini-2.5-flash']);

function usd(pico: bigint): number {
  // Exact division done in BigInt first so the reference value carries no accumulated float error.
  return Number(pico / PICO_PER_USD) + Number(pico % PICO_PER_USD) / 1e12;
}

describe('metrics registry vs ledger events', () => {
  const rand = prng(7);
  const tenants = ['acme', 'globex', 'initech'];
  const events: Array<{ ev: LedgerEvent; tenant: string }> = [];
  for (let i = 0; i < 600; i++) {
    const tenant = tenants[Math.floor(rand() * tenants.length)];
    events.push({ ev: randomEvent(rand, i, `id_${tenant}`), tenant });
  }
  const metrics = createMetrics({ maxTenantLabels: 100, knownModels: known, defaultMetrics: false });
  for (const { ev, tenant } of events) metrics.recordRequest(ev, tenant);

  it('sums cost to the ledger total within float precision, per tenant and overall', async () => {
    const samples = parseExposition(await metrics.metricsText());
    const totalPico = events.reduce((a, { ev }) => a + ev.costPico, 0n);
    const got = sumOf(samples, 'tollgate_cost_usd_total');
    const expected = usd(totalPico);
    expect(expected).toBeGreaterThan(0);
    expect(Math.abs(got - expected)).toBeLessThanOrEqual(expected * events.length * Number.EPSILON);
    for (const t of tenants) {
      const tPico = events.filter((e) => e.tenant === t).reduce((a, { ev }) => a + ev.costPico, 0n);
      const tGot = sumOf(samples, 'tollgate_cost_usd_total', { tenant: t });
      expect(Math.abs(tGot - usd(tPico))).toBeLessThanOrEqual(usd(tPico) * events.length * Number.EPSILON);
    }
  });

  it('counts tokens token for token, with disjoint kinds adding up to the ledger columns', async () => {
    const samples = parseExposition(await metrics.metricsText());
    for (const t of tenants) {
      for (const model of known) {
        const mine = events.filter((e) => e.tenant === t && e.ev.model === model).map((e) => e.ev);
        const where = { tenant: t, model };
        const k = (kind: string) => sumOf(samples, 'tollgate_tokens_total', { ...where, kind });
        expect(k('input') + k('cached_input')).toBe(mine.reduce((a, e) => a + e.inputTokens, 0));
        expect(k('cached_input')).toBe(mine.reduce((a, e) => a + e.cachedInputTokens, 0));
        expect(k('output') + k('reasoning')).toBe(mine.reduce((a, e) => a + e.outputTokens, 0));
        expect(k('reasoning')).toBe(mine.reduce((a, e) => a + e.reasoningTokens, 0));
      }
    }
  });

  it('counts requests by status and savings by reason', async () => {
    const samples = parseExposition(await metrics.metricsText());
    expect(sumOf(samples, 'tollgate_requests_total')).toBe(events.length);
    for (const status of ['200', '429', '500', '502']) {
      expect(sumOf(samples, 'tollgate_requests_total', { status })).toBe(events.filter((e) => String(e.ev.status) === status).length);
    }
    expect(sumOf(samples, 'tollgate_requests_total', { route: 'pinned' })).toBe(events.filter((e) => e.ev.route === null).length);
    const sum = (f: (ev: LedgerEvent) => bigint) => usd(events.reduce((a, { ev }) => a + f(ev), 0n));
    const close = (got: number, want: number) => expect(Math.abs(got - want)).toBeLessThanOrEqual(Math.max(want, 1e-9) * 1e-12);
    close(sumOf(samples, 'tollgate_savings_usd_total', { reason: 'prompt_cache' }), sum((e) => e.savedPromptCachePico));
    close(sumOf(samples, 'tollgate_savings_usd_total', { reason: 'off_peak' }), sum((e) => e.savedOffPeakPico));
    close(sumOf(samples, 'tollgate_savings_usd_total', { reason: 'response_cache' }), sum((e) => e.savedResponseCachePico));
    const routing = (e: LedgerEvent) => {
      const r = e.baselineCostPico - e.costPico - e.savedPromptCachePico - e.savedOffPeakPico - e.savedResponseCachePico;
      return r > 0n ? r : 0n;
    };
    expect(events.some((e) => routing(e.ev) === 0n)).toBe(true); // the clamp is exercised
    close(sumOf(samples, 'tollgate_savings_usd_total', { reason: 'routing' }), sum(routing));
    close(sumOf(samples, 'tollgate_baseline_cost_usd_total'), sum((e) => e.baselineCostPico));
  });

  it('observes durations and time to first token in histograms', async () => {
    const samples = parseExposition(await metrics.metricsText());
    expect(sumOf(samples, 'tollgate_request_duration_seconds_count')).toBe(events.length);
    expect(sumOf(samples, 'tollgate_time_to_first_token_seconds_count')).toBe(events.filter((e) => e.ev.ttftMs !== null).length);
    const latency = events.reduce((a, e) => a + e.ev.latencyMs, 0) / 1000;
    expect(Math.abs(sumOf(samples, 'tollgate_request_duration_seconds_sum') - latency)).toBeLessThan(1e-6);
  });

  it('derives gateway overhead as time to the client minus time in upstream attempts', async () => {
    const m = createMetrics({ maxTenantLabels: 5, defaultMetrics: false });
    const base = randomEvent(prng(1), 1, 't');
    const attempt = { provider: 'openai' as const, model: 'gpt-4o-mini', status: 200, error: null, latencyMs: 0 };
    m.recordRequest({ ...base, stream: false, latencyMs: 250.5, ttftMs: null, attempts: [{ ...attempt, latencyMs: 100 }, { ...attempt, latencyMs: 150 }] }, 't');
    m.recordRequest({ ...base, stream: true, latencyMs: 9000, ttftMs: 301, attempts: [{ ...attempt, latencyMs: 300 }] }, 't');
    m.recordRequest({ ...base, attempts: [] }, 't'); // a cache hit or a refusal: no upstream time to subtract
    const s = parseExposition(await m.metricsText());
    expect(sumOf(s, 'tollgate_gateway_overhead_seconds_count')).toBe(2);
    expect(sumOf(s, 'tollgate_gateway_overhead_seconds_sum')).toBeCloseTo(0.0015, 9);
    const off = createMetrics({ maxTenantLabels: 5, defaultMetrics: false, overheadFromEvents: false });
    off.recordRequest({ ...base, attempts: [{ ...attempt, latencyMs: 1 }] }, 't');
    expect(sumOf(parseExposition(await off.metricsText()), 'tollgate_gateway_overhead_seconds_count')).toBe(0);
  });

  it('takes the unrounded times when given: sub-millisecond overhead, and no request left out for rounding', async () => {
    const base = randomEvent(prng(2), 1, 't');
    const attempt = { provider: 'openai' as const, model: 'gpt-4o-mini', status: 200, error: null };
    // 100.4 ms in all, 100.3 ms upstream: the ledger's whole 100 ms would say -0.3 ms.
    const ev = { ...base, stream: false, latencyMs: 100, ttftMs: null, attempts: [{ ...attempt, latencyMs: 100.3 }] };
    const exact = createMetrics({ maxTenantLabels: 5, defaultMetrics: false });
    exact.recordRequest(ev, 't', 100.4, null);
    const s = parseExposition(await exact.metricsText());
    expect(sumOf(s, 'tollgate_gateway_overhead_seconds_count')).toBe(1);
    expect(sumOf(s, 'tollgate_gateway_overhead_seconds_sum')).toBeCloseTo(0.0001, 9);
    expect(sumOf(s, 'tollgate_request_duration_seconds_sum')).toBeCloseTo(0.1004, 9);
    // Without them (an event from elsewhere), rounding below zero counts as no overhead rather than no observation.
    const rounded = createMetrics({ maxTenantLabels: 5, defaultMetrics: false });
    rounded.recordRequest(ev, 't');
    const r = parseExposition(await rounded.metricsText());
    expect(sumOf(r, 'tollgate_gateway_overhead_seconds_count')).toBe(1);
    expect(sumOf(r, 'tollgate_gateway_overhead_seconds_sum')).toBe(0);
    // A stream's overhead runs to its first byte.
    const stream = createMetrics({ maxTenantLabels: 5, defaultMetrics: false });
    stream.recordRequest({ ...ev, stream: true, latencyMs: 900, ttftMs: 101 }, 't', 900.2, 100.55);
    expect(sumOf(parseExposition(await stream.metricsText()), 'tollgate_gateway_overhead_seconds_sum')).toBeCloseTo(0.00025, 9);
  });
});

describe('bounded label values', () => {
  const rand = prng(11);

  it('caps tenant labels and maps unknown models and providers to other', async () => {
    const metrics = createMetrics({ maxTenantLabels: 2, knownModels: known, defaultMetrics: false });
    const names = ['t1', 't2', 't3', 't4'];
    names.forEach((n, i) => metrics.recordRequest(randomEvent(rand, i, n), n));
    const odd = { ...randomEvent(rand, 9, 't1'), model: 'x'.repeat(40), provider: null };
    metrics.recordRequest(odd, 't1');
    metrics.recordRequest(randomEvent(rand, 10, 'anon'), null);
    const samples = parseExposition(await metrics.metricsText());
    const tenantsSeen = new Set(samples.filter((s) => s.name === 'tollgate_requests_total').map((s) => s.labels.tenant));
    expect([...tenantsSeen].sort()).toEqual(['none', 'other', 't1', 't2']);
    expect(sumOf(samples, 'tollgate_requests_total', { tenant: 'other' })).toBe(2);
    expect(sumOf(samples, 'tollgate_requests_total', { model: 'other', provider: 'none' })).toBe(1);
    expect(samples.some((s) => s.labels.model === odd.model)).toBe(false);
  });

  it('keeps reasons, limits and cache results in closed sets, and skips budget gauges of capped tenants', async () => {
    const metrics = createMetrics({ maxTenantLabels: 1, knownModels: known, defaultMetrics: false });
    metrics.upstreamError('openai', upstreamErrorReason({ kind: 'http', status: 503 }));
    metrics.upstreamError('openai', 'free text from upstream');
    metrics.upstreamError('deepseek', '429');
    metrics.upstreamError('deepseek', '502');
    metrics.fallback('gpt-4.1', 'deepseek-flash');
    metrics.rateLimited('a', 'tokens');
    metrics.refusedAhead('budget');
    metrics.refusedAhead('not-a-limit');
    metrics.limiterAdmission('ahead');
    metrics.limiterAdmission('ahead');
    metrics.cacheRequest('a', 'hit');
    metrics.setBudget('a', 'month', 100n * PICO_PER_USD, 25n * PICO_PER_USD + PICO_PER_USD / 2n);
    metrics.setBudget('b', 'month', 5n * PICO_PER_USD, 1n);
    metrics.setCircuit('gemini', 'gemini-2.5-flash', true);
    metrics.setLedgerStats({ queued: 3, spooled: 12 });
    metrics.setRedisUp(false);
    metrics.observeOverhead(0.0004);
    const s = parseExposition(await metrics.metricsText());
    expect(sumOf(s, 'tollgate_upstream_errors_total', { provider: 'openai', reason: 'server_error' })).toBe(1);
    expect(sumOf(s, 'tollgate_upstream_errors_total', { reason: 'other' })).toBe(1);
    expect(sumOf(s, 'tollgate_upstream_errors_total', { provider: 'deepseek', reason: 'rate_limited' })).toBe(1);
    expect(sumOf(s, 'tollgate_upstream_errors_total', { provider: 'deepseek', reason: 'server_error' })).toBe(1);
    expect(sumOf(s, 'tollgate_fallbacks_total', { from: 'gpt-4.1', to: 'deepseek-flash' })).toBe(1);
    expect(sumOf(s, 'tollgate_rate_limited_total', { tenant: 'a', limit: 'tokens' })).toBe(1);
    expect(sumOf(s, 'tollgate_limiter_refused_ahead_total', { limit: 'budget' })).toBe(1);
    expect(sumOf(s, 'tollgate_limiter_refused_ahead_total', { limit: 'other' })).toBe(1);
    expect(sumOf(s, 'tollgate_limiter_admissions_total', { path: 'ahead' })).toBe(2);
    expect(sumOf(s, 'tollgate_cache_requests_total', { tenant: 'a', result: 'hit' })).toBe(1);
    expect(sumOf(s, 'tollgate_budget_spent_usd', { tenant: 'a', period: 'month' })).toBe(25.5);
    expect(s.some((x) => x.name === 'tollgate_budget_limit_usd' && x.labels.tenant !== 'a')).toBe(false);
    expect(sumOf(s, 'tollgate_circuit_open', { provider: 'gemini' })).toBe(1);
    expect(sumOf(s, 'tollgate_ledger_spooled_events')).toBe(12);
    expect(sumOf(s, 'tollgate_redis_up')).toBe(0);
    expect(sumOf(s, 'tollgate_gateway_overhead_seconds_count')).toBe(1);
  });

  it('runs collectors before each scrape', async () => {
    const metrics = createMetrics({ maxTenantLabels: 5, defaultMetrics: false });
    let queued = 0;
    metrics.addCollector(() => metrics.setLedgerStats({ queued: ++queued, spooled: 0 }));
    await metrics.metricsText();
    const s = parseExposition(await metrics.metricsText());
    expect(sumOf(s, 'tollgate_ledger_queue_events')).toBe(2);
  });
});

describe('GET /metrics', () => {
  it('serves the exposition, and requires the bearer token when one is set', async () => {
    const metrics = createMetrics({ maxTenantLabels: 5 });
    const open = createMetricsRoute({ metrics });
    const r1 = await open.request('/metrics');
    expect(r1.status).toBe(200);
    expect(r1.headers.get('content-type')).toContain('text/plain');
    expect(await r1.text()).toContain('tollgate_process_cpu_user_seconds_total');

    const locked = createMetricsRoute({ metrics, token: 's3cret-token' });
    expect((await locked.request('/metrics')).status).toBe(401);
    expect((await locked.request('/metrics', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const ok = await locked.request('/metrics', { headers: { authorization: 'Bearer s3cret-token' } });
    expect(ok.status).toBe(200);
  });
});
