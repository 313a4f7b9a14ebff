// The in-process Limiter: the Redis limiter's semantics (leaky buckets, reservations, tombstones) for one instance.
import { GatewayError } from '../errors.js';
import type { AdmitRequest, AdmitResult, BudgetSpec, BudgetState, Limiter, Settlement, SpendSeeder } from './interface.js';
import {
  applicableLimits,
  budgetRetryMs,
  budgetStateOf,
  clampTokens,
  counterExpiry,
  counterId,
  type ApplicableLimit,
  type LimitReading,
  MAX_RESERVE_PICO,
  rateStateOf,
  seedUnavailable,
  WINDOW_MS,
} from './shared.js';

export interface MemoryLimiterOptions {
  seeder: SpendSeeder;
  reservationTtlS: number;
  /** Clock for budgetState() (admit and settle carry their own `now`). */
  now?: () => number;
}

interface Bucket {
  level: number;
  at: number;
  limit: number;
}

interface Counter {
  value: bigint;
  expiresAt: number;
}

type RecordState = 'o' | 'x' | 'r' | 's';

interface Reservation {
  state: RecordState;
  amount: bigint;
  counters: string[];
  buckets: string[];
  estimated: number;
  deadline: number;
}

interface TenantState {
  counters: Map<string, Counter>;
  buckets: Map<string, Bucket>;
  reservations: Map<string, Reservation>;
}

const W = WINDOW_MS;

function bucketKey(l: ApplicableLimit): string {
  return `${l.scope}\t${l.subject ?? ''}\t${l.kind}`;
}

/** Leaky bucket level at `now`, in units of W per request or token (the same integers as the Lua script). */
function levelAt(b: Bucket | undefined, now: number, limit: number): number {
  if (!b) return 0;
  const dt = Math.min(Math.max(now - b.at, 0), W);
  return Math.max(0, b.level - dt * limit);
}

function liveCounter(t: TenantState, id: string, now: number): Counter | undefined {
  const c = t.counters.get(id);
  if (c && c.expiresAt <= now) {
    t.counters.delete(id);
    return undefined;
  }
  return c;
}

function unreserve(t: TenantState, r: Reservation): void {
  for (const id of r.counters) {
    const c = t.counters.get(id);
    if (c) c.value = c.value > r.amount ? c.value - r.amount : 0n;
  }
}

function charge(t: TenantState, ids: string[], amount: bigint): void {
  for (const id of ids) {
    const c = t.counters.get(id);
    if (c) c.value += amount;
  }
}

/** Records are kept in deadline order (re-inserted on every change), so pruning stops at the first live one. */
function put(t: TenantState, rid: string, r: Reservation): void {
  t.reservations.delete(rid);
  t.reservations.set(rid, r);
}

/** Returns expired open reservations to their counters and drops old tombstones. */
function prune(t: TenantState, now: number, ttlMs: number): void {
  for (const [rid, r] of t.reservations) {
    if (r.deadline > now) break;
    if (r.state === 'o') {
      unreserve(t, r);
      put(t, rid, { ...r, state: 'x', deadline: now + ttlMs });
    } else {
      t.reservations.delete(rid);
    }
  }
}

interface RateCheck {
  limits: ApplicableLimit[];
  cur: number[];
  nxt: number[];
  refusal: 'requests' | 'tokens' | null;
  retry: number;
}

function checkRates(req: AdmitRequest, t: TenantState, tokens: number): RateCheck {
  const limits = applicableLimits(req);
  const check: RateCheck = { limits, cur: [], nxt: [], refusal: null, retry: 0 };
  limits.forEach((l, i) => {
    const cost = l.kind === 'r' ? 1 : tokens;
    const cur = levelAt(t.buckets.get(bucketKey(l)), req.now, l.limit);
    const cap = l.limit * W;
    check.cur[i] = cur;
    check.nxt[i] = cur + cost * W;
    if (check.nxt[i] <= cap) return;
    // A request bigger than the whole bucket never fits: report the time until the bucket is empty.
    check.retry = Math.max(check.retry, Math.ceil(cost > l.limit ? cur / l.limit : (check.nxt[i] - cap) / l.limit));
    if (check.refusal === null || (check.refusal === 'tokens' && l.kind === 'r')) check.refusal = l.kind === 'r' ? 'requests' : 'tokens';
  });
  return check;
}

function readingsOf(limits: ApplicableLimit[], levels: number[]): LimitReading[] {
  return limits.map((l, i) => ({
    kind: l.kind,
    limit: l.limit,
    remaining: Math.floor((l.limit * W - levels[i]) / W),
    resetMs: Math.ceil(levels[i] / l.limit),
  }));
}

function decide(req: AdmitRequest, t: TenantState, ttlMs: number): AdmitResult {
  const tokens = clampTokens(req.tokens);
  const { limits, cur, nxt, refusal, retry } = checkRates(req, t, tokens);
  const reserve = req.reservePico < 0n ? 0n : req.reservePico > MAX_RESERVE_PICO ? MAX_RESERVE_PICO : req.reservePico;
  const used = req.budgets.map((b) => liveCounter(t, counterId(b), req.now)?.value ?? 0n);
  const refusedBudget = req.budgets.findIndex((b, i) => b.mode === 'hard' && used[i] + reserve > b.limitPico);
  if (refusal !== null || refusedBudget >= 0) {
    const budgets = req.budgets.map((b, i) => budgetStateOf(b, used[i]));
    return {
      ok: false,
      reason: refusal ?? 'budget',
      retryAfterMs: refusal !== null ? retry : budgetRetryMs(req.budgets[refusedBudget], req.now),
      rate: rateStateOf(readingsOf(limits, cur)),
      budgets,
      ...(refusedBudget >= 0 ? { budget: budgets[refusedBudget] } : {}),
    };
  }
  limits.forEach((l, i) => t.buckets.set(bucketKey(l), { level: nxt[i], at: req.now, limit: l.limit }));
  const old = t.reservations.get(req.requestId);
  if (old?.state === 'o') unreserve(t, old);
  const ids = req.budgets.map(counterId);
  charge(t, ids, reserve);
  const buckets = limits.filter((l) => l.kind === 't').map(bucketKey);
  if (ids.length > 0 || buckets.length > 0) {
    put(t, req.requestId, { state: 'o', amount: reserve, counters: ids, buckets, estimated: tokens, deadline: req.now + ttlMs });
  }
  return {
    ok: true,
    rate: rateStateOf(readingsOf(limits, nxt)),
    budgets: req.budgets.map((b) => budgetStateOf(b, liveCounter(t, counterId(b), req.now)?.value ?? 0n)),
    degraded: false,
  };
}

function settleIn(t: TenantState, s: Settlement, ttlMs: number): void {
  prune(t, s.now, ttlMs);
  const r = t.reservations.get(s.requestId);
  if (r?.state === 's') return;
  if (r) {
    if (r.state === 'o') unreserve(t, r);
    charge(t, r.counters, s.actualPico);
    const delta = clampTokens(s.actualTokens) - r.estimated;
    for (const key of delta === 0 ? [] : r.buckets) {
      const b = t.buckets.get(key);
      if (!b) continue;
      // A settlement may carry an earlier instant than the bucket's last update: never move its clock back.
      const at = Math.max(s.now, b.at);
      t.buckets.set(key, { level: Math.max(0, levelAt(b, at, b.limit) + delta * W), at, limit: b.limit });
    }
  } else {
    if (s.budgets.length === 0) return;
    // No reservation (expired and pruned, or admitted elsewhere): the cost was still incurred.
    charge(t, s.budgets.filter((b) => liveCounter(t, counterId(b), s.now)).map(counterId), s.actualPico);
  }
  put(t, s.requestId, { state: 's', amount: 0n, counters: [], buckets: [], estimated: 0, deadline: s.now + ttlMs });
}

export function createMemoryLimiter(options: MemoryLimiterOptions): Limiter {
  const tenants = new Map<string, TenantState>();
  const ttlMs = options.reservationTtlS * 1000;
  const clock = options.now ?? Date.now;
  const seeding = new Map<string, Promise<void>>();

  const tenant = (id: string): TenantState => {
    let t = tenants.get(id);
    if (!t) {
      t = { counters: new Map(), buckets: new Map(), reservations: new Map() };
      tenants.set(id, t);
    }
    return t;
  };

  /** Missing counters are seeded from the ledger; concurrent admissions share one seeding. */
  async function ensureCounters(tenantId: string, budgets: BudgetSpec[], now: number): Promise<void> {
    const t = tenant(tenantId);
    await Promise.all(
      budgets.map((spec) => {
        const id = counterId(spec);
        if (liveCounter(t, id, now)) return undefined;
        const k = `${tenantId}\n${id}`;
        let p = seeding.get(k);
        if (!p) {
          p = options
            .seeder(tenantId, spec.periodStart)
            .then(
              (value) => {
                if (!liveCounter(t, id, now)) t.counters.set(id, { value, expiresAt: counterExpiry(spec) });
              },
              (err: unknown) => {
                throw err instanceof GatewayError ? err : seedUnavailable(err);
              },
            )
            .finally(() => seeding.delete(k));
          seeding.set(k, p);
        }
        return p;
      }),
    );
  }

  return {
    status: 'up',
    async admit(req) {
      await ensureCounters(req.tenantId, req.budgets, req.now);
      const t = tenant(req.tenantId);
      prune(t, req.now, ttlMs);
      return decide(req, t, ttlMs);
    },
    async settle(s) {
      settleIn(tenant(s.tenantId), s, ttlMs);
    },
    async budgetState(tenantId, budgets): Promise<BudgetState[]> {
      const now = clock();
      await ensureCounters(tenantId, budgets, now);
      const t = tenant(tenantId);
      prune(t, now, ttlMs);
      return budgets.map((b) => budgetStateOf(b, liveCounter(t, counterId(b), now)?.value ?? 0n));
    },
    async resetBudgets(tenantId) {
      const t = tenants.get(tenantId);
      if (!t) return;
      t.counters.clear();
      for (const r of t.reservations.values()) if (r.state === 'o') r.state = 'r';
    },
    async close() {
      tenants.clear();
    },
  };
}
