// The Redis limiter proper: one Lua script call per operation, errors thrown as they come (redis-limiter.ts handles outages).
import type { Redis } from 'ioredis';
import { type AheadOptions, clampReserve, createAheadBook, type Mark } from './ahead.js';
import type { AdmitRequest, AdmitResult, BudgetSpec, BudgetState, Limiter, Settlement, SpendSeeder } from './interface.js';
import { admitLua, resetLua, settleLua, stateLua } from './lua.js';
import {
  applicableLimits,
  type ApplicableLimit,
  budgetRetryMs,
  budgetStateOf,
  clampTokens,
  counterExpiry,
  type LimitReading,
  MAX_BUDGET_PICO,
  rateStateOf,
} from './shared.js';
import { remembered } from '../bounded-map.js';

export interface RedisCoreOptions {
  redis: Redis;
  seeder: SpendSeeder;
  reservationTtlS: number;
  /** First segment of every key (tests isolate by tenant id; deployments may share a Redis). */
  keyPrefix?: string;
  now?: () => number;
  /** Admission without waiting for Redis far from every limit (ahead.ts); absent = always wait. */
  ahead?: AheadOptions;
}

/** The Redis limiter with admission ahead of Redis' answer (see ahead.ts). */
export interface RedisCoreLimiter extends Limiter {
  /**
   * Admits at once when Redis' last reading leaves room on every limit, sending the admission without waiting for it;
   * null when the request must wait (then call admit). `failed` hears of an error on the admission sent (Redis, or the
   * ledger seeding a counter); `refused` of Redis refusing it after all (another instance took the room).
   */
  admitAhead(
    req: AdmitRequest,
    failed: (err: unknown) => void,
    refused: (req: AdmitRequest, result: AdmitResult) => void,
    rides?: Rides | null,
  ): AdmitResult | null;
  /** admit(), with the tenant's riding settlements (sent inside the same script, before the admission). */
  admit(req: AdmitRequest, rides?: Rides | null): Promise<AdmitResult>;
  /**
   * Takes a settlement to ride inside its tenant's next admission (counted now by the ahead book, as settle() would);
   * false when it cannot ride, because its own admission still waits to seed counters: settle it on its own.
   */
  ride(s: Settlement): boolean;
}

/**
 * Settlements of one tenant riding inside an admission's script instead of a script call each (admitLua applies them
 * first). `done` hears once Redis answered that call (no argument) or that it failed (the error): with a RangeError
 * nothing was sent; otherwise they may or may not have been applied, and settling again is harmless (idempotent).
 */
export interface Rides {
  settlements: Settlement[];
  done: (err?: unknown) => void;
}

type Reply = Array<string | number>;
type ScriptFn = (...args: Array<string | number>) => Promise<unknown>;

interface ScriptClient {
  tgLimitAdmit: ScriptFn;
  tgLimitSettle: ScriptFn;
  tgLimitState: ScriptFn;
  tgLimitReset: ScriptFn;
}

/** Registers the scripts (EVALSHA, reloaded by ioredis on NOSCRIPT) once per client. */
function scriptsOf(redis: Redis): ScriptClient {
  const scripts = [
    ['tgLimitAdmit', admitLua],
    ['tgLimitSettle', settleLua],
    ['tgLimitState', stateLua],
    ['tgLimitReset', resetLua],
  ] as const;
  const host = redis as unknown as Record<string, unknown>;
  for (const [name, lua] of scripts) if (typeof host[name] !== 'function') redis.defineCommand(name, { lua });
  return redis as unknown as ScriptClient;
}

function asReply(v: unknown): Reply {
  if (!Array.isArray(v)) throw new Error(`limiter script: unexpected reply ${String(v)}`);
  return v as Reply;
}

const enc = (s: string) => encodeURIComponent(s);

/** The ledger (not Redis) failed while seeding a counter: not a Redis outage. */
export class SeedError extends Error {
  constructor(cause: unknown) {
    super(`cannot seed budget counters from the ledger: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'SeedError';
  }
}

/** Every key of a tenant carries the hash tag {t:<tenant>}: one Cluster slot per tenant, so one script sees them all. */
export function tenantKeys(prefix: string, tenantId: string) {
  const p = `${prefix}:{t:${enc(tenantId)}}:`;
  return {
    res: `${p}res`,
    resx: `${p}resx`,
    bk: `${p}bk`,
    rate: (scope: string, subject: string | null, kind: string) => `${p}rl:${scope}:${enc(subject ?? '')}:${kind}`,
    budget: (spec: Pick<BudgetSpec, 'period' | 'periodStart'>) => `${p}b:${spec.period}:${spec.periodStart.toISOString()}`,
  };
}

type TenantKeys = ReturnType<typeof tenantKeys>;

/**
 * tenantKeys with every string kept: built per request they were fresh concatenations that ioredis copies again to
 * measure (Command.toWritable), with a toISOString per budget: ~3 of the ~120 KiB a gateway request allocated. Bounded:
 * a map that outgrows its cap starts again.
 */
function keyCache(prefix: string): (tenantId: string) => TenantKeys {
  const tenants = new Map<string, TenantKeys>();
  const keysOf = (tenantId: string): TenantKeys => {
    const k = tenantKeys(prefix, tenantId);
    // scope → kind → subject → key
    const rates = new Map<string, Map<string, Map<string | null, string>>>();
    const budgets = new Map<string, { start: number; key: string }>();
    const cached: TenantKeys = {
      ...k,
      rate(scope, subject, kind) {
        let byKind = rates.get(scope);
        if (!byKind) rates.set(scope, (byKind = new Map()));
        let bySubject = byKind.get(kind);
        if (!bySubject) byKind.set(kind, (bySubject = new Map()));
        // Written out rather than through remembered(): its maker would be a closure per call, on every request.
        let key = bySubject.get(subject);
        if (key === undefined) {
          if (bySubject.size >= 1000) bySubject.clear();
          bySubject.set(subject, (key = k.rate(scope, subject, kind)));
        }
        return key;
      },
      budget(spec) {
        const start = spec.periodStart.getTime();
        let b = budgets.get(spec.period);
        if (!b || b.start !== start) budgets.set(spec.period, (b = { start, key: k.budget(spec) }));
        return b.key;
      },
    };
    return cached;
  };
  return (tenantId) => remembered(tenants, tenantId, 10_000, keysOf);
}

/** The actual cost a settlement charges, as the scripts take it (a decimal string, never below zero). */
const settledPico = (s: Settlement): string => (s.actualPico < 0n ? '0' : s.actualPico.toString());

function checkBudget(spec: BudgetSpec): void {
  if (spec.limitPico < 0n || spec.limitPico > MAX_BUDGET_PICO) throw new RangeError(`budget limit out of range: ${spec.limitPico}`);
}

export function createRedisCoreLimiter(options: RedisCoreOptions): RedisCoreLimiter {
  const { redis, seeder } = options;
  const scripts = scriptsOf(redis);
  const prefix = options.keyPrefix ?? 'tg';
  const ttlMs = options.reservationTtlS * 1000;
  const clock = options.now ?? Date.now;
  const keysOf = keyCache(prefix);
  const book = options.ahead && options.ahead.headroom > 0 ? createAheadBook(options.ahead) : null;
  /**
   * Admissions between a 'seed' answer and their retry. A settlement is otherwise sent at once, behind its admission on
   * the same connection (the order Redis sees); an admission that went ahead may still be waiting for the ledger to seed
   * its counters, and its settlement must wait for the retry.
   */
  const seeding = new Map<string, Promise<unknown>>();

  async function admitChecked(req: AdmitRequest, rides?: Rides | null): Promise<AdmitResult> {
    let mark = book?.sent(req) ?? null;
    const limits = applicableLimits(req);
    let reply: Reply;
    if (rides) {
      try {
        reply = await admitOnce(req, limits, [], rides.settlements);
      } catch (err) {
        rides.done(err);
        throw err;
      }
      rides.done();
    } else reply = await admitOnce(req, limits, []);
    // A missing counter (cold start, flushed Redis, new period): seed it from the ledger and retry once.
    if (reply[0] === 'seed') {
      // The counters are gone (a new tenant or period, or flushed, evicted, reset elsewhere): the tenant's readings no
      // longer hold. The retry is the admission that counts, in a tally started afresh.
      book?.forget(req.tenantId);
      const retry = seedsFor(req.tenantId, req.budgets, reply).then((seeds) => {
        mark = book?.sent(req) ?? null;
        return admitOnce(req, limits, seeds); // the riding settlements went with the first call
      });
      seeding.set(req.requestId, retry);
      try {
        reply = await retry;
      } finally {
        seeding.delete(req.requestId);
      }
    }
    if (reply[0] === 'seed') throw new Error('limiter: budget counter still missing after seeding');
    return parseAdmit(req, limits, reply, mark);
  }

  async function seedsFor(tenantId: string, budgets: BudgetSpec[], reply: Reply): Promise<string[]> {
    const seeds = budgets.map(() => '');
    await Promise.all(
      reply.slice(1).map(async (i) => {
        const idx = Number(i) - 1;
        try {
          seeds[idx] = (await seeder(tenantId, budgets[idx].periodStart)).toString();
        } catch (err) {
          throw new SeedError(err);
        }
      }),
    );
    return seeds;
  }

  async function admitOnce(req: AdmitRequest, limits: ApplicableLimit[], seeds: string[], rides: readonly Settlement[] = []): Promise<Reply> {
    const k = keysOf(req.tenantId);
    const reserve = clampReserve(req.reservePico);
    const rateKeys = limits.map((l) => k.rate(l.scope, l.subject, l.kind));
    const budgetKeys = req.budgets.map(k.budget);
    const args: Array<string | number> = [k.res, k.resx, k.bk, ...rateKeys, ...budgetKeys];
    for (const s of rides) for (const b of s.budgets) args.push(k.budget(b));
    args.unshift(args.length);
    args.push(req.now, req.requestId, clampTokens(req.tokens), ttlMs, limits.length, req.budgets.length);
    for (const l of limits) args.push(l.kind, l.limit);
    req.budgets.forEach((b, i) => {
      checkBudget(b);
      args.push(b.mode === 'hard' ? 'h' : 's', counterExpiry(b), seeds[i] ?? '', (b.limitPico - reserve).toString(), reserve.toString());
    });
    args.push(rateKeys.filter((_, i) => limits[i].kind === 't').join('\t'), rides.length);
    for (const s of rides) args.push(s.now, s.requestId, settledPico(s), clampTokens(s.actualTokens), s.budgets.length);
    return asReply(await scripts.tgLimitAdmit(...args));
  }

  function parseAdmit(req: AdmitRequest, limits: ApplicableLimit[], reply: Reply, mark: Mark | null): AdmitResult {
    const ok = reply[0] === 'ok';
    let at = ok ? 1 : 3;
    const readings: LimitReading[] = limits.map((l) => {
      const r = { kind: l.kind, limit: l.limit, remaining: Number(reply[at]), resetMs: Number(reply[at + 1]) };
      at += 2;
      return r;
    });
    const spent = req.budgets.map(() => BigInt(String(reply[at++])));
    const budgets: BudgetState[] = req.budgets.map((b, i) => budgetStateOf(b, spent[i]));
    if (mark) book?.record(req, mark, readings, spent);
    const rate = rateStateOf(readings);
    if (ok) return { ok: true, rate, budgets, degraded: false };
    const kind = reply[1];
    const refused = Number(reply[at]) - 1;
    const budget = refused >= 0 ? budgets[refused] : undefined;
    return {
      ok: false,
      reason: kind === 'r' ? 'requests' : kind === 't' ? 'tokens' : 'budget',
      retryAfterMs: kind === 'b' && budget ? budgetRetryMs(req.budgets[refused], req.now) : Number(reply[2]),
      rate,
      budgets,
      ...(budget ? { budget } : {}),
    };
  }

  async function stateOnce(tenantId: string, budgets: BudgetSpec[], seeds: string[]): Promise<Reply> {
    const k = keysOf(tenantId);
    const keys = [k.res, k.resx, k.bk, ...budgets.map(k.budget)];
    const args: Array<string | number> = [keys.length, ...keys, clock(), ttlMs, budgets.length];
    budgets.forEach((b, i) => args.push('', counterExpiry(b), seeds[i] ?? ''));
    return asReply(await scripts.tgLimitState(...args));
  }

  return {
    status: 'up',
    admit: admitChecked,
    admitAhead(req, failed, refused, rides) {
      const result = book?.tryAhead(req) ?? null;
      if (result === null) return null;
      // Sent now (admitOnce writes before its first await): whatever follows on this connection comes after it.
      admitChecked(req, rides).then((r) => {
        if (!r.ok) refused(req, r);
      }, failed);
      return result;
    },
    ride(s) {
      if (seeding.has(s.requestId)) return false;
      book?.settled(s.tenantId, s.actualPico, s.actualTokens - s.estimatedTokens);
      return true;
    },
    async settle(s: Settlement) {
      const retry = seeding.get(s.requestId);
      if (retry) await retry.catch(() => {});
      book?.settled(s.tenantId, s.actualPico, s.actualTokens - s.estimatedTokens);
      const k = keysOf(s.tenantId);
      const keys = [k.res, k.resx, ...s.budgets.map(k.budget)];
      await scripts.tgLimitSettle(keys.length, ...keys, s.now, s.requestId, settledPico(s), clampTokens(s.actualTokens), ttlMs);
    },
    async budgetState(tenantId, budgets) {
      let reply = await stateOnce(tenantId, budgets, []);
      if (reply[0] === 'seed') reply = await stateOnce(tenantId, budgets, await seedsFor(tenantId, budgets, reply));
      if (reply[0] === 'seed') throw new Error('limiter: budget counter still missing after seeding');
      return budgets.map((b, i) => budgetStateOf(b, BigInt(String(reply[i + 1]))));
    },
    async resetBudgets(tenantId) {
      book?.forget(tenantId);
      const k = keysOf(tenantId);
      await scripts.tgLimitReset(2, k.res, k.bk);
    },
    async close() {},
  };
}
