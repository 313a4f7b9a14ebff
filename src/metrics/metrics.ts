// Every Prometheus metric of the gateway, in one prom-client registry, with bounded label values and a cheap hot path.
import { Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { LedgerEvent } from '../metering/ledger-event.js';
import { picoToUsdNumber } from '../metering/money.js';
import { providerNames, upstreamFailureKinds, type UpstreamError } from '../providers/types.js';
import { errorCodes } from '../errors.js';
import type { BudgetPeriod } from '../limits/interface.js';
import type { AdmissionPath } from '../limits/redis-limiter.js';
import { createCounterFamily, createLabelMapper, type CounterSeries } from './series.js';

/** The label value for everything outside the known set (unknown model, tenants past the cap, odd reasons). */
export const OTHER = 'other';
/** Label value when an event has no provider/model (refused before routing) or no route alias (pinned model). */
export const NONE = 'none';
export const PINNED = 'pinned';
/** Tenant label of a refused request that never authenticated (no key, a bad key, the failed-auth limit). */
export const UNAUTHENTICATED = '-';

/**
 * The client API paths, as the `route` label of tollgate_refused_requests_total: an id in a path becomes `:id`, and
 * any other path (a typo, a probe) is `other`, so the label set stays closed whatever clients send.
 */
export const v1Routes = [
  '/v1/chat/completions',
  '/v1/embeddings',
  '/v1/responses',
  '/v1/responses/:id',
  '/v1/models',
  '/v1/models/:id',
  '/v1/route/explain',
  '/v1/spend',
] as const;
const exactV1Routes = new Set<string>(v1Routes.filter((r) => !r.includes(':')));

/** The `route` label of a request path: one of v1Routes, or `other`. */
export function v1RouteOf(path: string): string {
  if (exactV1Routes.has(path)) return path;
  if (path.startsWith('/v1/models/') && path.length > '/v1/models/'.length) return '/v1/models/:id';
  if (path.startsWith('/v1/responses/') && path.length > '/v1/responses/'.length && !path.includes('/', '/v1/responses/'.length)) return '/v1/responses/:id';
  return OTHER;
}

/** What the client was answered, for tollgate_refused_requests_total. */
export interface RequestAnswer {
  /** The tenant's name once its key was accepted, else null (labelled `-`). */
  tenant: string | null;
  /** The request path (mapped to a v1Routes entry or `other`). */
  path: string;
  status: number;
  /** A code of src/errors.ts; anything else is labelled `other`. */
  code: string;
}

/**
 * Token kinds are DISJOINT so that `sum(tollgate_tokens_total)` is the number of tokens billed:
 * input = uncached input, cached_input = cached input, output = visible output, reasoning = reasoning.
 * Against the ledger columns (which include the sub-kinds): input_tokens = input + cached_input,
 * output_tokens = output + reasoning, exactly.
 */
export const tokenKinds = ['input', 'cached_input', 'output', 'reasoning'] as const;
export type TokenKind = (typeof tokenKinds)[number];

/**
 * Savings by reason. response_cache, prompt_cache and off_peak come from the ledger event; routing is the rest of
 * (baseline − cost). A request routed to a model dearer than the baseline has negative routing savings: a counter
 * cannot go down, so that part is clamped at 0 and `tollgate_baseline_cost_usd_total − tollgate_cost_usd_total` is the
 * exact net saving.
 */
export const savingsReasons = ['routing', 'response_cache', 'prompt_cache', 'off_peak'] as const;
export type SavingsReason = (typeof savingsReasons)[number];

export const upstreamErrorReasons = [...upstreamFailureKinds, 'rate_limited', 'server_error', 'client_error', 'circuit_open'] as const;
export const rateLimitKinds = ['requests', 'tokens', 'budget', 'streams', 'auth_failures'] as const;
export const cacheResults = ['hit', 'miss', 'bypass', 'store', 'error'] as const;
export type CacheResult = (typeof cacheResults)[number];

export interface MetricsOptions {
  /** Distinct tenant label values before the rest are counted as `other` (first come, first labelled). */
  maxTenantLabels: number;
  /** Catalog model ids; any other model string becomes `other`. Without it, model labels are capped like tenants. */
  knownModels?: ReadonlySet<string>;
  /** Cap on distinct route aliases (tenant-defined) before `other`. */
  maxRouteLabels?: number;
  /** Node process metrics (default on; off in tests that build many registries). */
  defaultMetrics?: boolean;
  /**
   * Derive tollgate_gateway_overhead_seconds from each served event (default on): the time to the client's first
   * byte (stream) or to the whole answer (non-stream) minus the time spent in upstream attempts. Turn it off when the
   * caller measures overhead itself with observeOverhead(), or it is counted twice.
   */
  overheadFromEvents?: boolean;
}

export interface LedgerStats {
  queued: number;
  spooled: number;
}

export interface Metrics {
  readonly registry: Registry;
  readonly contentType: string;
  /** One finished request: requests, tokens, cost, savings, baseline, duration and time to first token. */
  /**
   * `latencyMs` / `ttftMs`: the unrounded times the event's whole milliseconds come from, when the caller has them
   * (the gateway does): durations and the overhead are observed from them, sub-millisecond as they are.
   */
  recordRequest(ev: LedgerEvent, tenantName: string | null, latencyMs?: number, ttftMs?: number | null): void;
  /** Time the gateway itself spent on a request (total minus upstream), in seconds. */
  observeOverhead(seconds: number): void;
  /** `reason`: an UpstreamFailureKind, a class from upstreamErrorReason(), or a bare HTTP status ("503", folded into its class). */
  upstreamError(provider: string, reason: string): void;
  /** A fallback from one catalog model id to the next. */
  fallback(from: string, to: string): void;
  /** A request refused by a limit: `requests` | `tokens` | `budget` | `streams` | `auth_failures`. */
  rateLimited(tenant: string | null, limit: string): void;
  /** Redis refused an admission that had gone ahead of its answer (src/limits/ahead.ts): the request was served anyway. */
  refusedAhead(limit: string): void;
  /** An admission by the Redis limiter: ahead of Redis' answer, after waiting for it, or in-process while Redis is away. */
  limiterAdmission(path: AdmissionPath): void;
  /** Budget gauges in pico-USD (exported as USD); a null limit removes the limit series. Tenants past the cap are not exported. */
  setBudget(tenant: string, period: BudgetPeriod, limitPico: bigint | null, spentPico: bigint): void;
  /** Drops both budget series of a tenant and period (budget removed from the policy, tenant deleted). */
  clearBudget(tenant: string, period: BudgetPeriod): void;
  setLedgerStats(stats: LedgerStats): void;
  setRedisUp(up: boolean): void;
  setCircuit(provider: string, model: string, open: boolean): void;
  cacheRequest(tenant: string | null, result: CacheResult): void;
  /**
   * A /v1 request arrived. Until requestAnswered() for the same id, a requestMetered() or recordRequest() of an event
   * with this request id marks the request as metered (it has a ledger row and is in tollgate_requests_total).
   */
  requestStarted(requestId: string): void;
  /** meter() priced this request: its event is recorded later in the turn, its answer is not a refusal. */
  requestMetered(requestId: string): void;
  /**
   * The answer of a request passed to requestStarted(). An error answer (status >= 400) of a request that was not
   * metered counts once in tollgate_refused_requests_total; returns whether it did. So every /v1 request answered
   * is in exactly one of tollgate_requests_total and tollgate_refused_requests_total.
   */
  requestAnswered(requestId: string, answer: RequestAnswer): boolean;
  /** Runs before each scrape: pull gauges (ledger stats, circuit snapshot, budgets) instead of pushing them. */
  addCollector(fn: () => void | Promise<void>): void;
  metricsText(): Promise<string>;
}

/** The `reason` label of an upstream failure: the failure kind, with HTTP statuses folded into a few classes. */
export function upstreamErrorReason(err: Pick<UpstreamError, 'kind' | 'status'>): string {
  if (err.kind !== 'http') return err.kind;
  const s = err.status ?? 0;
  if (s === 429) return 'rate_limited';
  if (s >= 500) return 'server_error';
  return 'client_error';
}

/** Request latencies of LLM calls run from tens of milliseconds to minutes. */
const durationBuckets = [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300];
const ttftBuckets = [0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2.5, 5, 10, 30];
/** The gateway's own share is expected well under a millisecond. */
const overheadBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1];

interface ModelSeries {
  tokens: Record<TokenKind, CounterSeries>;
  cost: CounterSeries;
  duration: { observe(v: number): void };
  ttft: { observe(v: number): void };
}

interface TenantSeries {
  savings: Record<SavingsReason, CounterSeries>;
  baseline: CounterSeries;
}

function statusLabel(status: number): string {
  return Number.isInteger(status) && status >= 100 && status <= 599 ? String(status) : OTHER;
}

/** Gateway time of a served request, in seconds, or null when there is no upstream attempt to subtract (times: the event's, or unrounded ones). */
export function overheadOf(ev: Pick<LedgerEvent, 'stream' | 'latencyMs' | 'ttftMs' | 'attempts'>, latencyMs = ev.latencyMs, ttftMs = ev.ttftMs): number | null {
  if (ev.attempts.length === 0) return null;
  const until = ev.stream ? ttftMs : latencyMs;
  if (until === null) return null;
  let upstream = 0;
  for (const a of ev.attempts) upstream += a.latencyMs;
  const ms = until - upstream;
  // Whole milliseconds against fractional attempts can fall up to half a millisecond below zero: that is no overhead,
  // not a request to leave out (leaving them out dropped the fastest fifth of requests from the histogram).
  return ms >= 0 ? ms / 1000 : ms > -1 ? 0 : null;
}

function nonNegative(pico: bigint): number {
  return pico > 0n ? picoToUsdNumber(pico) : 0;
}

/** Every metric of the gateway, registered once in `registry`. */
function defineFamilies(registry: Registry) {
  const requests = createCounterFamily(registry, 'tollgate_requests_total', 'Requests answered, by HTTP status the client received.', ['tenant', 'route', 'provider', 'model', 'status']);
  const tokens = createCounterFamily(registry, 'tollgate_tokens_total', 'Tokens metered; kinds are disjoint (input = uncached input, output = visible output).', ['tenant', 'provider', 'model', 'kind']);
  const cost = createCounterFamily(registry, 'tollgate_cost_usd_total', 'Spend in USD (float view of the exact ledger).', ['tenant', 'provider', 'model']);
  const savings = createCounterFamily(registry, 'tollgate_savings_usd_total', 'USD saved against the tenant baseline model, by reason (routing clamped at 0 per request).', ['tenant', 'reason']);
  const baseline = createCounterFamily(registry, 'tollgate_baseline_cost_usd_total', 'What the tenant baseline model would have cost for the same tokens, USD.', ['tenant']);
  const upstreamErrors = createCounterFamily(registry, 'tollgate_upstream_errors_total', 'Failed upstream attempts, by reason.', ['provider', 'reason']);
  const fallbacks = createCounterFamily(registry, 'tollgate_fallbacks_total', 'Fallbacks from one catalog model to the next.', ['from', 'to']);
  const rateLimited = createCounterFamily(registry, 'tollgate_rate_limited_total', 'Requests refused by a rate limit or budget.', ['tenant', 'limit']);
  const refusedAhead = createCounterFamily(
    registry,
    'tollgate_limiter_refused_ahead_total',
    'Admissions that went ahead of Redis (far from every limit) and that Redis then refused: served over the limit, by the limit Redis named.',
    ['limit'],
  );
  const admissions = createCounterFamily(
    registry,
    'tollgate_limiter_admissions_total',
    'Admission decisions of the Redis limiter, by path: ahead of Redis\' answer (far from every limit), after waiting for it, or in-process while Redis is away.',
    ['path'],
  );
  const cacheRequests = createCounterFamily(registry, 'tollgate_cache_requests_total', 'Response cache lookups, by result.', ['tenant', 'result']);
  const refused = createCounterFamily(
    registry,
    'tollgate_refused_requests_total',
    'Client API requests answered with an error and no ledger row (refused before admission), by path, status and error code.',
    ['tenant', 'route', 'status', 'code'],
  );

  const duration = new Histogram({ name: 'tollgate_request_duration_seconds', help: 'Whole request duration as the client saw it.', labelNames: ['provider', 'model'], buckets: durationBuckets, registers: [registry] });
  const ttft = new Histogram({ name: 'tollgate_time_to_first_token_seconds', help: 'Time until the first content byte was sent to the client.', labelNames: ['provider', 'model'], buckets: ttftBuckets, registers: [registry] });
  const overhead = new Histogram({ name: 'tollgate_gateway_overhead_seconds', help: 'Time spent in the gateway itself (request duration minus upstream time).', buckets: overheadBuckets, registers: [registry] });

  const budgetLimit = new Gauge({ name: 'tollgate_budget_limit_usd', help: 'Budget limit per tenant and period, USD.', labelNames: ['tenant', 'period'], registers: [registry] });
  const budgetSpent = new Gauge({ name: 'tollgate_budget_spent_usd', help: 'Budget spent (settled plus reserved) in the current period, USD.', labelNames: ['tenant', 'period'], registers: [registry] });
  const ledgerQueue = new Gauge({ name: 'tollgate_ledger_queue_events', help: 'Ledger events waiting in memory.', registers: [registry] });
  const ledgerSpooled = new Gauge({ name: 'tollgate_ledger_spooled_events', help: 'Ledger events in the spool file, waiting for Postgres.', registers: [registry] });
  const redisUp = new Gauge({ name: 'tollgate_redis_up', help: '1 when the limiter reaches Redis, 0 when degraded or down.', registers: [registry] });
  const circuitOpen = new Gauge({ name: 'tollgate_circuit_open', help: '1 while the circuit breaker of a provider model is open.', labelNames: ['provider', 'model'], registers: [registry] });
  return { requests, tokens, cost, savings, baseline, upstreamErrors, fallbacks, rateLimited, refusedAhead, admissions, cacheRequests, refused, duration, ttft, overhead, budgetLimit, budgetSpent, ledgerQueue, ledgerSpooled, redisUp, circuitOpen };
}
type Families = ReturnType<typeof defineFamilies>;

interface Labels {
  tenantOf(v: string | null): string;
  routeOf(v: string | null): string;
  modelOf(v: string | null): string;
  providerOf(v: string | null): string;
  reasonOf(v: string): string;
  limitOf(v: string): string;
  cacheResultOf(v: string): string;
  errorCodeOf(v: string): string;
}

/** Label values only from bounded sets: catalog models, provider names, closed enums, capped tenants and routes. */
function createLabels(options: MetricsOptions): Labels {
  const tenantOf = createLabelMapper({ cap: options.maxTenantLabels, nullValue: NONE });
  const routeOf = createLabelMapper({ cap: options.maxRouteLabels ?? 50, nullValue: PINNED });
  const known = options.knownModels;
  const modelCap = createLabelMapper({ cap: 500, nullValue: NONE });
  const modelOf = (m: string | null): string => (m === null ? NONE : known ? (known.has(m) ? m : OTHER) : modelCap(m));
  const providerSet = new Set<string>(providerNames);
  const providerOf = (p: string | null): string => (p === null ? NONE : providerSet.has(p) ? p : OTHER);
  const closed = (set: readonly string[]) => {
    const s = new Set(set);
    return (v: string): string => (s.has(v) ? v : OTHER);
  };
  const reasonOf = closed(upstreamErrorReasons);
  const limitOf = closed(rateLimitKinds);
  const cacheResultOf = closed(cacheResults);
  const errorCodeOf = closed(Object.keys(errorCodes));
  return { tenantOf, routeOf, modelOf, providerOf, reasonOf, limitOf, cacheResultOf, errorCodeOf };
}

/** The series one request touches, created on first use and then found with a few Map lookups. */
function createSeriesCache(f: Families) {
  const { tokens, cost, duration, ttft, savings, baseline } = f;
  const modelSeries = new Map<string, Map<string, Map<string, ModelSeries>>>();
  const tenantSeries = new Map<string, TenantSeries>();

  function seriesFor(tenant: string, provider: string, model: string): ModelSeries {
    let byProvider = modelSeries.get(tenant);
    if (!byProvider) modelSeries.set(tenant, (byProvider = new Map()));
    let byModel = byProvider.get(provider);
    if (!byModel) byProvider.set(provider, (byModel = new Map()));
    let s = byModel.get(model);
    if (!s) {
      const t = (kind: TokenKind) => tokens.series([tenant, provider, model, kind]);
      s = {
        tokens: { input: t('input'), cached_input: t('cached_input'), output: t('output'), reasoning: t('reasoning') },
        cost: cost.series([tenant, provider, model]),
        duration: duration.labels(provider, model),
        ttft: ttft.labels(provider, model),
      };
      byModel.set(model, s);
    }
    return s;
  }

  function tenantSeriesFor(tenant: string): TenantSeries {
    let s = tenantSeries.get(tenant);
    if (!s) {
      const r = (reason: SavingsReason) => savings.series([tenant, reason]);
      s = {
        savings: { routing: r('routing'), response_cache: r('response_cache'), prompt_cache: r('prompt_cache'), off_peak: r('off_peak') },
        baseline: baseline.series([tenant]),
      };
      tenantSeries.set(tenant, s);
    }
    return s;
  }
  return { seriesFor, tenantSeriesFor };
}

interface RecordContext {
  l: Labels;
  f: Families;
  cache: ReturnType<typeof createSeriesCache>;
  deriveOverhead: boolean;
  /** /v1 requests not answered yet → whether a ledger event was recorded for them. Bounded by concurrent requests. */
  inFlight: Map<string, boolean>;
}

function recordEvent(ev: LedgerEvent, tenantName: string | null, ctx: RecordContext, latencyMs = ev.latencyMs, ttftMs = ev.ttftMs): void {
  const { l, f, cache } = ctx;
  if (ctx.inFlight.has(ev.requestId)) ctx.inFlight.set(ev.requestId, true);
  const tenant = l.tenantOf(tenantName);
  const provider = l.providerOf(ev.provider);
  const model = l.modelOf(ev.model);
  f.requests.series([tenant, l.routeOf(ev.route), provider, model, statusLabel(ev.status)]).value += 1;

  const s = cache.seriesFor(tenant, provider, model);
  s.tokens.input.value += Math.max(0, ev.inputTokens - ev.cachedInputTokens);
  s.tokens.cached_input.value += ev.cachedInputTokens;
  s.tokens.output.value += Math.max(0, ev.outputTokens - ev.reasoningTokens);
  s.tokens.reasoning.value += ev.reasoningTokens;
  s.cost.value += nonNegative(ev.costPico);
  s.duration.observe(latencyMs / 1000);
  if (ttftMs !== null) s.ttft.observe(ttftMs / 1000);
  if (ctx.deriveOverhead) {
    const o = overheadOf(ev, latencyMs, ttftMs);
    if (o !== null) f.overhead.observe(o);
  }

  const t = cache.tenantSeriesFor(tenant);
  t.baseline.value += nonNegative(ev.baselineCostPico);
  const attributed = ev.savedResponseCachePico + ev.savedPromptCachePico + ev.savedOffPeakPico;
  t.savings.routing.value += nonNegative(ev.baselineCostPico - ev.costPico - attributed);
  t.savings.response_cache.value += nonNegative(ev.savedResponseCachePico);
  t.savings.prompt_cache.value += nonNegative(ev.savedPromptCachePico);
  t.savings.off_peak.value += nonNegative(ev.savedOffPeakPico);
}

export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) {
    // The event-loop delay is sampled every 50 ms instead of prom-client's 10: the sampling timer woke an idle gateway
    // 100 times a second (~8 ms of CPU per second on its own); 20 wakeups still see any stall that matters to a scrape.
    collectDefaultMetrics({ register: registry, prefix: 'tollgate_', eventLoopMonitoringPrecision: 50 });
    // prom-client names three gauges `_total`, which `promtool check metrics` rejects; the per-type gauges stay.
    for (const n of ['active_handles', 'active_requests', 'active_resources']) registry.removeSingleMetric(`tollgate_nodejs_${n}_total`);
  }
  const f = defineFamilies(registry);
  const l = createLabels(options);
  const ctx: RecordContext = { l, f, cache: createSeriesCache(f), deriveOverhead: options.overheadFromEvents !== false, inFlight: new Map() };
  const collectors: Array<() => void | Promise<void>> = [];

  return {
    registry,
    contentType: registry.contentType,
    recordRequest(ev, tenantName, latencyMs, ttftMs) {
      recordEvent(ev, tenantName, ctx, latencyMs, ttftMs);
    },
    observeOverhead(seconds) {
      if (Number.isFinite(seconds) && seconds >= 0) f.overhead.observe(seconds);
    },
    upstreamError(provider, reason) {
      // A bare HTTP status ("503") is folded into its class, so the label set stays closed whatever callers pass.
      const r = /^\d{3}$/.test(reason) ? upstreamErrorReason({ kind: 'http', status: Number(reason) }) : l.reasonOf(reason);
      f.upstreamErrors.series([l.providerOf(provider), r]).value += 1;
    },
    fallback(from, to) {
      f.fallbacks.series([l.modelOf(from), l.modelOf(to)]).value += 1;
    },
    rateLimited(tenant, limit) {
      f.rateLimited.series([l.tenantOf(tenant), l.limitOf(limit)]).value += 1;
    },
    limiterAdmission(path) {
      f.admissions.series([path]).value += 1;
    },
    refusedAhead(limit) {
      f.refusedAhead.series([l.limitOf(limit)]).value += 1;
    },
    setBudget(tenant, period, limitPico, spentPico) {
      const label = l.tenantOf(tenant);
      // `other` would mix several tenants' budgets into one gauge: better no series than a wrong one.
      if (label === OTHER) return;
      if (limitPico === null) f.budgetLimit.remove(label, period);
      else f.budgetLimit.set({ tenant: label, period }, picoToUsdNumber(limitPico));
      f.budgetSpent.set({ tenant: label, period }, picoToUsdNumber(spentPico));
    },
    clearBudget(tenant, period) {
      const label = l.tenantOf(tenant);
      if (label === OTHER) return;
      f.budgetLimit.remove(label, period);
      f.budgetSpent.remove(label, period);
    },
    setLedgerStats(stats) {
      f.ledgerQueue.set(stats.queued);
      f.ledgerSpooled.set(stats.spooled);
    },
    setRedisUp(up) {
      f.redisUp.set(up ? 1 : 0);
    },
    setCircuit(provider, model, open) {
      f.circuitOpen.set({ provider: l.providerOf(provider), model: l.modelOf(model) }, open ? 1 : 0);
    },
    cacheRequest(tenant, result) {
      f.cacheRequests.series([l.tenantOf(tenant), l.cacheResultOf(result)]).value += 1;
    },
    requestStarted(requestId) {
      ctx.inFlight.set(requestId, false);
    },
    requestMetered(requestId) {
      if (ctx.inFlight.has(requestId)) ctx.inFlight.set(requestId, true);
    },
    requestAnswered(requestId, a) {
      const metered = ctx.inFlight.get(requestId) === true;
      ctx.inFlight.delete(requestId);
      if (metered || a.status < 400) return false;
      const tenant = a.tenant === null ? UNAUTHENTICATED : l.tenantOf(a.tenant);
      f.refused.series([tenant, v1RouteOf(a.path), statusLabel(a.status), l.errorCodeOf(a.code)]).value += 1;
      return true;
    },
    addCollector(fn) {
      collectors.push(fn);
    },
    async metricsText() {
      for (const fn of collectors) await fn();
      return registry.metrics();
    },
  };
}
