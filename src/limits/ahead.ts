// Admission ahead of Redis: when Redis' last reading shows every limit far from its edge, a request is admitted at once
// and its admission script (the same EVALSHA, the same reservation) goes out without the request waiting for the answer.
//
// Why: on the request path the Redis round trip is the largest single wait (0.2–0.5 ms at one connection, more than half
// the gateway's added latency, and before the first token of a stream). Far from every limit the answer is known.
//
// Safety. A reading is what Redis answered to this instance's last admission of the same tenant, key and model
// (remaining requests and tokens per rate limit, budget spend with open reservations). Since then this instance may have
// sent more admissions (their cost is counted here, per tenant, until a later reading includes them) and settlements
// that cost more than they reserved (counted too). Levels only drain with time. So for one instance the reading minus
// what is counted here is a lower bound of what Redis will find, and the admission Redis receives cannot be refused:
// test/limits/ahead.test.ts checks it on random sequences. Other instances sharing the Redis are not seen; the headroom
// (a share of each limit that must stay free after this request), a room of `roomRequests` more requests like this one
// and the reading's age bound what they can take meanwhile. Near an edge, or on any doubt (no reading, a changed
// policy, a new budget period, a reset, counters found missing), the request waits for Redis as before. If Redis does
// refuse one that went ahead, it is counted (onRefusedAhead) and its actual cost is still charged by its settlement.
import type { AdmitRequest, AdmitResult, BudgetSpec, BudgetState, RateLimitSpec } from './interface.js';
import { budgetStateOf, clampLimit, clampTokens, emptyRateState, type LimitReading, MAX_RESERVE_PICO, tightenRate, WINDOW_MS } from './shared.js';
import { remembered } from '../bounded-map.js';

export interface AheadOptions {
  /** Share (0–1) of every rate limit and hard budget that must stay free after the request; 0 = always wait for Redis. */
  headroom: number;
  /** How old (ms, on the requests' clock) Redis' last reading may be. */
  maxAgeMs: number;
  /**
   * The room left must also hold this many more requests like this one (its request, its tokens, its reservation):
   * what other instances may admit meanwhile is counted in requests, not in shares, and a small limit (a few requests
   * per minute, a budget of a few dozen requests) is never admitted ahead.
   */
  roomRequests: number;
}

/** What this instance has sent to Redis for one tenant since it started tracking it (monotonic). */
interface TenantTally {
  requests: number;
  tokens: number;
  pico: bigint;
  /** Readings per key and model. */
  readings: Map<string, Reading>;
}

interface Reading {
  /** The `now` of the admission Redis answered. */
  at: number;
  limits: LimitReading[];
  budgets: BudgetSpec[];
  /** Spend per budget, open reservations included, as Redis answered. */
  spent: bigint[];
  /** The tenant's tally when that admission was sent (it included it). */
  mark: Mark;
}

/** The tally at the moment an admission was sent, handed back with Redis' answer. */
export interface Mark {
  tally: TenantTally;
  requests: number;
  tokens: number;
  pico: bigint;
}

const MAX_TENANTS = 10_000;
const newTally = (): TenantTally => ({ requests: 0, tokens: 0, pico: 0n, readings: new Map() });
const MAX_READINGS_PER_TENANT = 1_000;

const readingKey = (req: Pick<AdmitRequest, 'keyId' | 'model'>) => `${req.keyId ?? ''}\n${req.model ?? ''}`;

export const clampReserve = (p: bigint): bigint => (p < 0n ? 0n : p > MAX_RESERVE_PICO ? MAX_RESERVE_PICO : p);

/** Matches one scope's limits against the reading's from index i (applicableLimits' order); the next index, or -1. */
function matchScope(spec: RateLimitSpec, b: LimitReading[], i: number): number {
  if (i < 0) return i;
  if (spec.rpm !== undefined) {
    const x = b[i];
    if (x === undefined || x.kind !== 'r' || x.limit !== clampLimit(spec.rpm)) return -1;
    i++;
  }
  if (spec.tpm !== undefined) {
    const x = b[i];
    if (x === undefined || x.kind !== 't' || x.limit !== clampLimit(spec.tpm)) return -1;
    i++;
  }
  return i;
}

/** The request is subject to exactly the limits of the reading (same as comparing applicableLimits, without building it). */
function sameLimits(req: AdmitRequest, b: LimitReading[]): boolean {
  let i = matchScope(req.limits.tenant, b, 0);
  if (req.keyId !== null) i = matchScope(req.limits.key, b, i);
  if (req.model !== null) i = matchScope(req.limits.model, b, i);
  return i === b.length;
}

function sameBudgets(a: BudgetSpec[], b: BudgetSpec[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x.period !== y.period || x.mode !== y.mode || x.limitPico !== y.limitPico || x.periodStart.getTime() !== y.periodStart.getTime()) return false;
  }
  return true;
}

export interface AheadBook {
  /** An admission goes to Redis now: counts it and returns the mark its answer will carry. */
  sent(req: AdmitRequest): Mark;
  /** A settlement goes to Redis now: what it may add beyond the reservation is counted until a later reading. */
  settled(tenantId: string, actualPico: bigint, extraTokens: number): void;
  /** Redis answered an admission (admitted or refused): the tenant's reading for that key and model. */
  record(req: AdmitRequest, mark: Mark, limits: LimitReading[], spent: bigint[]): void;
  /** The result of admitting without waiting, or null when the request must wait for Redis. */
  tryAhead(req: AdmitRequest): AdmitResult | null;
  /** The tenant's counters were reset or found missing: its readings (and its tally) no longer hold. */
  forget(tenantId: string): void;
}

export function createAheadBook(options: AheadOptions): AheadBook {
  const tenants = new Map<string, TenantTally>();
  const headroomPermille = BigInt(Math.round(options.headroom * 1000));
  const roomRequests = BigInt(Math.max(0, Math.ceil(options.roomRequests)));

  const tallyOf = (tenantId: string): TenantTally => {
    return remembered(tenants, tenantId, MAX_TENANTS, newTally);
  };

  return {
    sent(req) {
      const t = tallyOf(req.tenantId);
      t.requests += 1;
      t.tokens += clampTokens(req.tokens);
      t.pico += clampReserve(req.reservePico);
      return { tally: t, requests: t.requests, tokens: t.tokens, pico: t.pico };
    },

    settled(tenantId, actualPico, extraTokens) {
      const t = tenants.get(tenantId);
      if (!t) return;
      if (actualPico > 0n) t.pico += actualPico;
      if (extraTokens > 0) t.tokens += extraTokens;
    },

    record(req, mark, limits, spent) {
      // A tally dropped since (reset, or the map's cap) makes the mark meaningless.
      if (tenants.get(req.tenantId) !== mark.tally) return;
      const key = readingKey(req);
      const prev = mark.tally.readings.get(key);
      // Answers come in the order admissions were sent, but a seeded retry can overtake: keep the newest.
      if (prev && prev.mark.requests > mark.requests) return;
      if (!prev && mark.tally.readings.size >= MAX_READINGS_PER_TENANT) mark.tally.readings.clear();
      mark.tally.readings.set(key, { at: req.now, limits, budgets: req.budgets, spent, mark });
    },

    tryAhead(req) {
      if (headroomPermille <= 0n) return null;
      const t = tenants.get(req.tenantId);
      const r = t?.readings.get(readingKey(req));
      if (!t || !r) return null;
      const age = req.now - r.at;
      if (age < 0 || age > options.maxAgeMs) return null;
      if (!sameLimits(req, r.limits) || !sameBudgets(req.budgets, r.budgets)) return null;
      const sinceRequests = t.requests - r.mark.requests;
      const sinceTokens = t.tokens - r.mark.tokens;
      const sincePico = t.pico - r.mark.pico;
      const tokens = clampTokens(req.tokens);
      const rate = emptyRateState();
      for (const l of r.limits) {
        const requests = l.kind === 'r';
        const cost = requests ? 1 + sinceRequests : tokens + sinceTokens;
        const remaining = l.remaining - cost;
        if (remaining < options.headroom * l.limit || remaining < options.roomRequests * (requests ? 1 : tokens)) return null;
        // The bucket drains by the reading's age and fills by `cost` units of WINDOW_MS / limit each. Built in passing,
        // as rateStateOf would from readings (remaining here is above the headroom: nothing to clamp).
        tightenRate(rate, l.kind, l.limit, remaining, Math.max(0, l.resetMs - age) + Math.ceil((cost * WINDOW_MS) / l.limit));
      }
      const reserve = clampReserve(req.reservePico);
      const budgets: BudgetState[] = [];
      for (let i = 0; i < r.budgets.length; i++) {
        const spec = r.budgets[i];
        const spent = r.spent[i] + sincePico + reserve;
        const room = spec.limitPico - spent;
        if (spec.mode === 'hard' && (room * 1000n < headroomPermille * spec.limitPico || room < roomRequests * reserve)) return null;
        budgets.push(budgetStateOf(spec, spent));
      }
      return { ok: true, rate, budgets, degraded: false };
    },

    forget(tenantId) {
      tenants.delete(tenantId);
    },
  };
}
