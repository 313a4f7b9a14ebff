// Meters one finished request: exact cost, savings, ledger event, metrics, budget settlement, one log line. The cost is
// computed at once (the answer's x-tollgate-cost-usd header needs it); the rest waits until the answer is written.
import type { CatalogModel } from '../config/catalog.js';
import { GatewayError } from '../errors.js';
import type { Attempt, Endpoint, LedgerEvent, Outcome, UsageSource } from '../metering/ledger-event.js';
import { costOf, zeroTokens, type TokenCounts } from '../metering/cost.js';
import type { BudgetSpec } from '../limits/interface.js';
import { baselineOf, savingsOf } from '../routing/baseline.js';
import type { AuthInfo } from '../http/context.js';
import type { GatewayDeps } from './deps.js';
import { writeAccessLine } from '../logger.js';
import type { ClientSignal } from './upstream-signal.js';

export interface MeterInput {
  requestId: string;
  auth: AuthInfo;
  endpoint: Endpoint;
  route: string | null;
  model: CatalogModel | null;
  stream: boolean;
  tokens: TokenCounts | null;
  usageSource: UsageSource;
  status: number;
  outcome: Outcome;
  errorCode: string | null;
  attempts: Attempt[];
  startedAt: Date;
  t0: number;
  firstByteAt: number | null;
  /** Present when admit() reserved budget: settle it. */
  admission: { budgets: BudgetSpec[]; estimatedTokens: number } | null;
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
 */
export function meter(deps: GatewayDeps, m: MeterInput): LedgerEvent {
  const tokens = m.tokens ?? zeroTokens;
  let costPico = 0n;
  let baselineCostPico = 0n;
  let savedPromptCachePico = 0n;
  let savedOffPeakPico = 0n;
  let priceVersion: string | null = null;
  if (m.model && m.tokens && !m.cacheHit) {
    const prices = deps.config.catalog.priceAt(m.model, m.startedAt, tokens.input);
    priceVersion = prices.version;
    costPico = costOf(tokens, prices);
    const s = savingsOf({
      catalog: deps.config.catalog,
      model: m.model,
      tokens,
      at: m.startedAt,
      baselineModel: m.auth.tenant.policy.baseline_model,
    });
    // The baseline is a chat model: an embeddings request has no cheaper-model saving to claim.
    baselineCostPico = m.endpoint === 'embeddings' ? costPico : s.baselinePico;
    savedPromptCachePico = s.promptCachePico;
    savedOffPeakPico = s.offPeakPico;
  } else if (m.cacheHit && m.hitTokens) {
    // A hit costs 0 and saves what the original cost; its baseline is the baseline of the original tokens, so that
    // routing = baseline − cost − named savings keeps adding up (for a hit: baseline − original cost).
    baselineCostPico = baselineOf(deps.config.catalog, m.auth.tenant.policy.baseline_model, m.hitTokens, m.startedAt);
  }
  const ev: LedgerEvent = {
    requestId: m.requestId,
    tenantId: m.auth.tenant.id,
    keyId: m.auth.key.id,
    endpoint: m.endpoint,
    route: m.route,
    provider: m.model?.provider ?? null,
    model: m.model?.id ?? null,
    stream: m.stream,
    inputTokens: tokens.input,
    cachedInputTokens: tokens.cachedInput,
    outputTokens: tokens.output,
    reasoningTokens: tokens.reasoning,
    usageSource: m.tokens ? m.usageSource : 'none',
    costPico,
    baselineCostPico,
    savedResponseCachePico: m.savedResponseCachePico ?? 0n,
    savedPromptCachePico,
    savedOffPeakPico,
    priceVersion,
    status: m.status,
    outcome: m.outcome,
    errorCode: m.errorCode,
    cacheHit: m.cacheHit ?? false,
    attempts: m.attempts,
    latencyMs: 0, // set by record()
    ttftMs: m.firstByteAt === null ? null : Math.round(m.firstByteAt - m.t0),
    startedAt: m.startedAt,
  };
  deps.metrics.requestMetered(ev.requestId); // before the answer: an error answered now is metered, not refused
  setImmediate(record, deps, m, ev, tokens);
  return ev;
}

/** The side effects of meter(), in their order: one per request, at the end of the turn that wrote the answer. */
function record(deps: GatewayDeps, m: MeterInput, ev: LedgerEvent, tokens: TokenCounts): void {
  // Unrounded for the metrics (sub-millisecond overhead); the ledger keeps whole milliseconds.
  const latencyMs = performance.now() - m.t0;
  const ttftMs = m.firstByteAt === null ? null : m.firstByteAt - m.t0;
  ev.latencyMs = Math.round(latencyMs);
  deps.ledger.enqueue(ev);
  deps.metrics.recordRequest(ev, m.auth.tenant.name, latencyMs, ttftMs);
  if (m.tokens && m.outcome === 'ok') deps.tenantState.observeOutput(ev.tenantId, tokens.output);
  if (m.admission) {
    deps.limiter
      .settle({
        requestId: m.requestId,
        tenantId: ev.tenantId,
        keyId: ev.keyId,
        model: ev.model,
        now: deps.clock().getTime(), // settlement time: token buckets refill up to now, not to the start
        actualPico: ev.costPico,
        actualTokens: tokens.input + tokens.output,
        estimatedTokens: m.admission.estimatedTokens,
        budgets: m.admission.budgets,
      })
      .catch((e: unknown) => deps.logger.warn({ requestId: m.requestId, err: String(e) }, 'budget settlement failed'));
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

/** What a request's ledger row knows before the answer: everything but the outcome. */
export type BaseMeter = Omit<MeterInput, 'model' | 'tokens' | 'usageSource' | 'status' | 'outcome' | 'errorCode' | 'firstByteAt'>;

/** Meters a request that got no answer and gives back the error for the client (rate headers attached). */
export function meterFailure(deps: GatewayDeps, base: BaseMeter, rateHeaders: Record<string, string>, clientSignal: ClientSignal, e: unknown): GatewayError {
  const err = e instanceof GatewayError ? e : new GatewayError('internal_error', 'Upstream call failed.');
  const last = base.attempts.at(-1);
  const model = last ? (deps.config.catalog.resolve(`${last.provider}/${last.model}`) ?? null) : null;
  meter(deps, {
    ...base,
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
