// What the Redis and in-process limiters share: which limits apply to a request, the header state, bounds and key names.
import { GatewayError } from '../errors.js';
import type { AdmitRequest, BudgetSpec, BudgetState, RateLimitState } from './interface.js';

/** Rate limits are per minute. */
export const WINDOW_MS = 60_000;
/** Bounds that keep the leaky-bucket arithmetic exact in a double (see lua.ts). */
export const MAX_RATE_LIMIT = 1_000_000_000;
export const MAX_TOKENS_PER_REQUEST = 100_000_000;
/**
 * A budget counter must stay below 2^63 pico-USD (Redis INCRBY is 64-bit): limits are capped at $8,000,000 per period
 * and one reservation at $100,000, which leaves room for open reservations and soft-budget overshoot.
 */
export const MAX_BUDGET_PICO = 8_000_000n * 1_000_000_000_000n;
export const MAX_RESERVE_PICO = 100_000n * 1_000_000_000_000n;

export type RateKind = 'r' | 't';
export type RateScope = 'tenant' | 'key' | 'model';

export interface ApplicableLimit {
  scope: RateScope;
  kind: RateKind;
  limit: number;
  /** Key id or model, for the key/model scopes. */
  subject: string | null;
}

export function clampLimit(n: number): number {
  return Math.min(Math.max(1, Math.floor(n)), MAX_RATE_LIMIT);
}

export function clampTokens(n: number): number {
  return Math.min(Math.max(0, Math.ceil(n)), MAX_TOKENS_PER_REQUEST);
}

/** The rate limits a request is subject to, in a stable order (tenant, key, model; requests before tokens). */
export function applicableLimits(req: Pick<AdmitRequest, 'keyId' | 'model' | 'limits'>): ApplicableLimit[] {
  const out: ApplicableLimit[] = [];
  const add = (scope: RateScope, subject: string | null, spec: { rpm?: number; tpm?: number }) => {
    if (spec.rpm !== undefined) out.push({ scope, kind: 'r', limit: clampLimit(spec.rpm), subject });
    if (spec.tpm !== undefined) out.push({ scope, kind: 't', limit: clampLimit(spec.tpm), subject });
  };
  add('tenant', null, req.limits.tenant);
  if (req.keyId !== null) add('key', req.keyId, req.limits.key);
  if (req.model !== null) add('model', req.model, req.limits.model);
  return out;
}

export interface LimitReading {
  kind: RateKind;
  limit: number;
  remaining: number;
  resetMs: number;
}

/** An x-ratelimit-* state with no limit yet, for tightenRate(). */
export function emptyRateState(): RateLimitState {
  return { limitRequests: null, remainingRequests: null, resetRequestsMs: null, limitTokens: null, remainingTokens: null, resetTokensMs: null };
}

/** Keeps, per kind, the limit with the least remaining (the first of equals); remaining as given (rateStateOf clamps). */
export function tightenRate(s: RateLimitState, kind: RateKind, limit: number, remaining: number, resetMs: number): void {
  if (kind === 'r') {
    if (s.remainingRequests === null || remaining < s.remainingRequests) {
      s.limitRequests = limit;
      s.remainingRequests = remaining;
      s.resetRequestsMs = resetMs;
    }
  } else if (s.remainingTokens === null || remaining < s.remainingTokens) {
    s.limitTokens = limit;
    s.remainingTokens = remaining;
    s.resetTokensMs = resetMs;
  }
}

/** The x-ratelimit-* state: for requests and for tokens, the limit with the least remaining (never below 0). */
export function rateStateOf(readings: LimitReading[]): RateLimitState {
  const s = emptyRateState();
  for (const x of readings) tightenRate(s, x.kind, x.limit, x.remaining, x.resetMs);
  if (s.remainingRequests !== null) s.remainingRequests = Math.max(0, s.remainingRequests);
  if (s.remainingTokens !== null) s.remainingTokens = Math.max(0, s.remainingTokens);
  return s;
}

export function budgetStateOf(spec: BudgetSpec, spentPico: bigint): BudgetState {
  return { period: spec.period, limitPico: spec.limitPico, spentPico, mode: spec.mode, resetsAt: spec.periodEnd };
}

/** Identifies one budget counter: its period and the instant the period started. */
export function counterId(spec: Pick<BudgetSpec, 'period' | 'periodStart'>): string {
  return `${spec.period}:${spec.periodStart.toISOString()}`;
}

/** Counters outlive their period by a day, so that a request settled just after midnight still finds its reservation. */
export function counterExpiry(spec: BudgetSpec): number {
  return spec.periodEnd.getTime() + 86_400_000;
}

/** Time until a refused budget resets. */
export function budgetRetryMs(spec: BudgetSpec, now: number): number {
  return Math.max(0, spec.periodEnd.getTime() - now);
}

/** Neither Redis nor the ledger can say what was spent: refuse rather than guess (a guess could overspend). */
export function seedUnavailable(err: unknown): GatewayError {
  return new GatewayError('service_unavailable', 'Budgets cannot be checked right now; retry shortly.', {
    headers: { 'retry-after': '1' },
    cause: err,
  });
}
