// Meters one finished request: exact cost, savings, ledger event, metrics, budget settlement, one log line. The cost is
// computed at once (the answer's x-tollgate-cost-usd header needs it); the rest waits until the answer is written.
import type { CatalogModel } from '../config/catalog.js';
import { GatewayError } from '../errors.js';
import type { Attempt, Endpoint, LedgerEvent, Outcome, UsageSource } from '../metering/ledger-event.js';
import { costOf, zeroTokens, type TokenCounts } from '../metering/cost.js';
import type { BudgetSpec } from '../limits/interface.js';
import { baselineOf, savingsOf } from '../routing/baseline.js';
import type { UnitPrices } from '../routing/catalog.js';
import type { AuthInfo } from '../http/context.js';
import type { GatewayDeps } from './deps.js';
import { writeAccessLine } from '../logger.js';
import type { ClientSignal } from './upstream-signal.js';

/** What a request's ledger row knows before the answer: everything but the outcome. */
export interface BaseMeter {
  requestId: string;
  auth: AuthInfo;
  endpoint: Endpoint;
  route: string | null;
  stream: boolean;
  attempts: Attempt[];
  startedAt: Date;
  t0: number;
  /** Present when admit() reserved budget: settle it. */
  admission: { budgets: BudgetSpec[]; estimatedTokens: number } | null;
}

/** How the request ended. */
export interface MeterResult {
  model: CatalogModel | null;
  tokens: TokenCounts | null;
  usageSource: UsageSource;
  status: number;
  outcome: Outcome;
  errorCode: string | null;
  firstByteAt: number | null;
  /** Saved by the response cache (pico-USD): what the original answer cost. */
  savedResponseCachePico?: bigint;
  cacheHit?: boolean;
  /** A hit: the original answer's tokens. Not metered (nothing was bought); they price the baseline of the hit. */
  hitTokens?: TokenCounts;
}

/**
 * Prices a finished request and returns its ledger event; the event is recorded (ledger, metrics, settlement, access
 * log) by `record` at the end of this turn of the event loop, after the answer built with the cost has been written
 * to the client's socket: none of it delays the answer, and the latency recorded runs to the answer's last write.
 * The request's two halves come apart (`b`, known before the upstream call, and `m`, the outcome) rather than merged
 * by the caller: on Node 20, `{ ...base, outcome… }` adds each property through V8's runtime (a clone's map keeps no
 * transitions), ~0.8 µs and ~0.5 KiB per property: the merged input cost ~7 µs and 3.8 KiB per request.
 */
export function meter(deps: GatewayDeps, b: BaseMeter, m: MeterResult): LedgerEvent {
  const tokens = m.tokens ?? zeroTokens;
  let costPico = 0n;
  let prices: Readonly<UnitPrices> | null = null;
  if (m.model && m.tokens && !m.cacheHit) {
    prices = deps.config.catalog.priceAt(m.model, b.startedAt, tokens.input);
    costPico = costOf(tokens, prices);
  }
  const ev: LedgerEvent = {
    requestId: b.requestId,
    tenantId: b.auth.tenant.id,
    keyId: b.auth.key.id,
    endpoint: b.endpoint,
    route: b.route,
    provider: m.model?.provider ?? null,
    model: m.model?.id ?? null,
    stream: b.stream,
    inputTokens: tokens.input,
    cachedInputTokens: tokens.cachedInput,
    outputTokens: tokens.output,
    reasoningTokens: tokens.reasoning,
    usageSource: m.tokens ? m.usageSource : 'none',
    costPico,
    baselineCostPico: 0n, // the baseline and the savings: set by record() (attributeSavings), after the answer
    savedResponseCachePico: m.savedResponseCachePico ?? 0n,
    savedPromptCachePico: 0n,
    savedOffPeakPico: 0n,
    priceVersion: prices ? prices.version : null,
    status: m.status,
    outcome: m.outcome,
    errorCode: m.errorCode,
    cacheHit: m.cacheHit ?? false,
    attempts: b.attempts,
    latencyMs: 0, // set by record()
    ttftMs: m.firstByteAt === null ? null : Math.round(m.firstByteAt - b.t0),
    startedAt: b.startedAt,
  };
  deps.metrics.requestMetered(ev.requestId); // before the answer: an error answered now is metered, not refused
  setImmediate(record, deps, b, m, ev, tokens, prices);
  return ev;
}

/**
 * The baseline model's cost on the same tokens and the named savings, into the event: what the ledger and the metrics
 * need, and the answer does not (its header carries the cost only). Priced after the answer: 4–6 BigInt cost
 * computations and three price lookups that otherwise ran before it (docs/performance.md, ninth session).
 */
function attributeSavings(deps: GatewayDeps, b: BaseMeter, m: MeterResult, ev: LedgerEvent, tokens: TokenCounts, prices: Readonly<UnitPrices> | null): void {
  if (m.model && m.tokens && !m.cacheHit) {
    const s = savingsOf({
      // The prices and cost meter() found: not looked up and computed a second time.
      priced: prices ? { prices, costPico: ev.costPico } : undefined,
      catalog: deps.config.catalog,
      model: m.model,
      tokens,
      at: b.startedAt,
      baselineModel: b.auth.tenant.policy.baseline_model,
    });
    // The baseline is a chat model: an embeddings request has no cheaper-model saving to claim.
    ev.baselineCostPico = b.endpoint === 'embeddings' ? ev.costPico : s.baselinePico;
    ev.savedPromptCachePico = s.promptCachePico;
    ev.savedOffPeakPico = s.offPeakPico;
  } else if (m.cacheHit && m.hitTokens) {
    // A hit costs 0 and saves what the original cost; its baseline is the baseline of the original tokens, so that
    // routing = baseline − cost − named savings keeps adding up (for a hit: baseline − original cost).
    ev.baselineCostPico = baselineOf(deps.config.catalog, b.auth.tenant.policy.baseline_model, m.hitTokens, b.startedAt);
  }
}

/** The side effects of meter(), in their order: one per request, at the end of the turn that wrote the answer. */
function record(deps: GatewayDeps, b: BaseMeter, m: MeterResult, ev: LedgerEvent, tokens: TokenCounts, prices: Readonly<UnitPrices> | null): void {
  attributeSavings(deps, b, m, ev, tokens, prices);
  // Unrounded for the metrics (sub-millisecond overhead); the ledger keeps whole milliseconds.
  const latencyMs = performance.now() - b.t0;
  const ttftMs = m.firstByteAt === null ? null : m.firstByteAt - b.t0;
  ev.latencyMs = Math.round(latencyMs);
  deps.ledger.enqueue(ev);
  deps.metrics.recordRequest(ev, b.auth.tenant.name, latencyMs, ttftMs);
  if (m.tokens && m.outcome === 'ok') deps.tenantState.observeOutput(ev.tenantId, tokens.output);
  if (b.admission) {
    deps.limiter
      .settle({
        requestId: b.requestId,
        tenantId: ev.tenantId,
        keyId: ev.keyId,
        model: ev.model,
        now: deps.clock().getTime(), // settlement time: token buckets refill up to now, not to the start
        actualPico: ev.costPico,
        actualTokens: tokens.input + tokens.output,
        estimatedTokens: b.admission.estimatedTokens,
        budgets: b.admission.budgets,
      })
      .catch((e: unknown) => deps.logger.warn({ requestId: b.requestId, err: String(e) }, 'budget settlement failed'));
  }
  writeAccessLine(deps.logger, accessFields(ev), 'request');
}

const q = (v: unknown): string => JSON.stringify(v ?? null);

/** The access line's members as JSON text, in a fixed order (src/logger.ts writeAccessLine). */
export function accessFields(ev: LedgerEvent): string {
  return (
    `"requestId":${q(ev.requestId)},"tenant":${q(ev.tenantId)},"key":${q(ev.keyId)},"endpoint":${q(ev.endpoint)},"route":${q(ev.route)},` +
    `"provider":${q(ev.provider)},"model":${q(ev.model)},"status":${q(ev.status)},"outcome":${q(ev.outcome)},"stream":${q(ev.stream)},` +
    `"tokens":{"input":${q(ev.inputTokens)},"cached":${q(ev.cachedInputTokens)},"output":${q(ev.outputTokens)},"reasoning":${q(ev.reasoningTokens)}},` +
    `"usage":${q(ev.usageSource)},"costPico":"${ev.costPico}","attempts":${ev.attempts.length},"latencyMs":${q(ev.latencyMs)},"ttftMs":${q(ev.ttftMs)}`
  );
}


/** Meters a request that got no answer and gives back the error for the client (rate headers attached). */
export function meterFailure(deps: GatewayDeps, base: BaseMeter, rateHeaders: Record<string, string>, clientSignal: ClientSignal, e: unknown): GatewayError {
  const err = e instanceof GatewayError ? e : new GatewayError('internal_error', 'Upstream call failed.');
  const last = base.attempts.at(-1);
  const model = last ? (deps.config.catalog.resolve(`${last.provider}/${last.model}`) ?? null) : null;
  meter(deps, base, {
    model,
    tokens: null,
    usageSource: 'none',
    status: err.status,
    outcome: clientSignal.aborted ? 'aborted' : 'error',
    errorCode: err.wireCode,
    firstByteAt: null,
  });
  return Object.assign(err, { headers: { ...rateHeaders, ...err.headers } });
}
