// The Redis limiter proper: one Lua script call per operation, errors thrown as they come (redis-limiter.ts handles outages).
import type { Redis } from 'ioredis';
import { type AheadOptions, clampReserve, createAheadBook, type Mark } from './ahead.js';
import type { AdmitRequest, AdmitResult, BudgetSpec, BudgetState, Limiter, Settlement, SpendSeeder } from './interface.js';
import { batchLua, resetLua, settleLua, stateLua } from './lua.js';
import {
  applicableLimits,
  type ApplicableLimit,
  budgetRetryMs,
  budgetStateOf,
  clampTokens,
  counterExpiry,
  emptyRateState,
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
  /**
   * How long an admission that went ahead waits for others of its tenant to share its script call (a batch); a
   * settlement of a tenant with a batch open joins it. 0 = each admission is a call of its own at the end of the turn.
   */
  batchWindowMs?: number;
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
  /** Sends every batch still open (close() does too, and waits for their answers). */
  flush(): void;
  /**
   * Takes a settlement to ride inside its tenant's next admission (counted now by the ahead book, as settle() would);
   * false when it cannot ride, because its own admission still waits to seed counters: settle it on its own.
   */
  ride(s: Settlement): boolean;
}

/**
 * Settlements of one tenant riding inside an admission's script instead of a script call each (the batch script applies
 * them first). `done` hears once Redis answered that call (no argument) or that it failed (the error): with a RangeError
 * nothing was sent; otherwise they may or may not have been applied, and settling again is harmless (idempotent).
 */
export interface Rides {
  settlements: Settlement[];
  done: (err?: unknown) => void;
}

type Reply = Array<string | number>;
type ScriptFn = (...args: Array<string | number>) => Promise<unknown>;

interface ScriptClient {
  tgLimitBatch: ScriptFn;
  tgLimitSettle: ScriptFn;
  tgLimitState: ScriptFn;
  tgLimitReset: ScriptFn;
}

/** Registers the scripts (EVALSHA, reloaded by ioredis on NOSCRIPT) once per client. */
function scriptsOf(redis: Redis): ScriptClient {
  const scripts = [
    ['tgLimitBatch', batchLua],
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

/** Admissions of one key and model under the same limits and budgets: what the batch script reads once per call. */
interface Group {
  keyId: string | null;
  model: string | null;
  limits: ApplicableLimit[];
  budgets: BudgetSpec[];
  seeds: readonly string[];
}

/**
 * What a quiet admission's {'k'} answer turns into: admitted. Only its `ok` is read (by admitAhead, which has answered
 * the request already from the ahead book).
 */
const QUIET_OK: AdmitResult = Object.freeze({ ok: true, rate: Object.freeze(emptyRateState()), budgets: [], degraded: false }) as AdmitResult;

/** Most operations, and groups, in one call of the batch script. */
const MAX_BATCH_OPS = 256;
const MAX_BATCH_GROUPS = 32;
const NO_SEEDS: readonly string[] = [];

function sameGroup(g: Group, limits: ApplicableLimit[], budgets: BudgetSpec[], seeds: readonly string[]): boolean {
  if (g.limits.length !== limits.length || g.budgets.length !== budgets.length) return false;
  for (let i = 0; i < limits.length; i++) {
    const x = g.limits[i];
    const y = limits[i];
    if (x.scope !== y.scope || x.kind !== y.kind || x.limit !== y.limit) return false;
  }
  for (let i = 0; i < budgets.length; i++) {
    const x = g.budgets[i];
    const y = budgets[i];
    if (x.period !== y.period || x.mode !== y.mode || x.periodStart.getTime() !== y.periodStart.getTime()) return false;
    if (counterExpiry(x) !== counterExpiry(y) || (g.seeds[i] ?? '') !== (seeds[i] ?? '')) return false;
  }
  return true;
}

type AdmissionWaiter = (reply: Reply | null, err?: unknown) => void;

/**
 * A tenant's admissions and settlements waiting to leave in one call of the batch script (batchLua), in the order they
 * were issued: Redis applies them in that order, each as a script call of its own would have.
 */
class Batch {
  readonly keys: string[];
  private readonly keyAt = new Map<string, number>();
  private readonly groups: Group[] = [];
  private readonly groupArgs: Array<string | number> = [];
  private readonly ops: Array<string | number> = [];
  private nops = 0;
  /** Per group (1-based), where its last quiet admission's operation starts in `ops`. */
  private readonly lastQuiet: Array<number | undefined> = [];
  /** Per admission, in order: its reply, or the call's error. */
  private readonly admissions: AdmissionWaiter[] = [];
  /** Each hears once the call was answered (no argument) or failed (the error). */
  private readonly after: Array<(err?: unknown) => void> = [];
  timer: NodeJS.Timeout | null = null;

  constructor(
    readonly tenantId: string,
    private readonly k: TenantKeys,
  ) {
    this.keys = [k.res, k.resx, k.bk];
  }

  get full(): boolean {
    return this.nops >= MAX_BATCH_OPS;
  }

  /** The 1-based index of a key in KEYS, added at its first use. */
  private key(name: string): number {
    let i = this.keyAt.get(name);
    if (i === undefined) {
      this.keys.push(name);
      this.keyAt.set(name, (i = this.keys.length));
    }
    return i;
  }

  /** The request's group (1-based), added at its first use; 0 when this batch cannot take it (send it, use a new one). */
  groupOf(req: AdmitRequest, limits: ApplicableLimit[], seeds: readonly string[]): number {
    const { groups } = this;
    for (let g = 0; g < groups.length; g++) {
      const x = groups[g];
      if (x.keyId === req.keyId && x.model === req.model) return sameGroup(x, limits, req.budgets, seeds) ? g + 1 : 0;
    }
    if (groups.length >= MAX_BATCH_GROUPS) return 0;
    groups.push({ keyId: req.keyId, model: req.model, limits, budgets: req.budgets, seeds });
    const a = this.groupArgs;
    a.push(limits.length, req.budgets.length);
    let tokenKeys = '';
    for (const l of limits) {
      const name = this.k.rate(l.scope, l.subject, l.kind);
      if (l.kind === 't') tokenKeys = tokenKeys === '' ? name : `${tokenKeys}\t${name}`;
      a.push(this.key(name), l.kind, l.limit);
    }
    req.budgets.forEach((b, i) => a.push(this.key(this.k.budget(b)), b.mode === 'hard' ? 'h' : 's', counterExpiry(b), seeds[i] ?? ''));
    a.push(tokenKeys);
    return groups.length;
  }

  /**
   * Queues an admission. `quiet`: one that went ahead, whose answer is only read for a refusal: Redis answers {'k'}
   * when it is admitted (batchLua), except the last quiet one of its group in the call, whose state renews the
   * group's reading (the ahead book keeps the newest).
   */
  addAdmission(group: number, req: AdmitRequest, reserve: bigint, waiter: AdmissionWaiter, quiet = false): void {
    const o = this.ops;
    if (quiet) this.lastQuiet[group] = o.length;
    o.push(quiet ? 'q' : 'a', group, req.now, req.requestId, clampTokens(req.tokens), reserve.toString());
    for (const b of req.budgets) o.push((b.limitPico - reserve).toString());
    this.nops++;
    this.admissions.push(waiter);
  }

  addSettlement(s: Settlement): void {
    const o = this.ops;
    o.push('s', s.now, s.requestId, settledPico(s), clampTokens(s.actualTokens), s.budgets.length);
    for (const b of s.budgets) o.push(this.key(this.k.budget(b)));
    this.nops++;
  }

  onAnswer(f: (err?: unknown) => void): void {
    this.after.push(f);
  }

  /** numkeys, KEYS and ARGV of the batch script. */
  args(ttlMs: number): Array<string | number> {
    for (const at of this.lastQuiet) if (at !== undefined) this.ops[at] = 'a';
    return [this.keys.length, ...this.keys, ttlMs, this.groups.length, ...this.groupArgs, this.nops, ...this.ops];
  }

  answered(v: unknown): void {
    const n = this.admissions.length;
    if (!Array.isArray(v) || v.length !== n || !v.every(Array.isArray)) {
      this.failed(new Error(`limiter script: unexpected reply ${String(v)}`));
      return;
    }
    for (let i = 0; i < n; i++) this.admissions[i](v[i] as Reply);
    for (const f of this.after) f();
  }

  failed(err: unknown): void {
    const e = err ?? new Error('limiter script failed');
    for (const w of this.admissions) w(null, e);
    for (const f of this.after) f(e);
  }
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

  /** Batches open per tenant (see Batch), the last call sent (one connection answers in order: awaiting it awaits all). */
  const open = new Map<string, Batch>();
  let lastSent: Promise<unknown> = Promise.resolve();
  const windowMs = options.batchWindowMs ?? 0;

  function send(b: Batch): void {
    if (open.get(b.tenantId) === b) open.delete(b.tenantId);
    if (b.timer) clearTimeout(b.timer);
    b.timer = null;
    lastSent = scripts.tgLimitBatch(...b.args(ttlMs)).then(
      (v) => b.answered(v),
      (err: unknown) => b.failed(err),
    );
  }

  function batchFor(tenantId: string): Batch {
    let b = open.get(tenantId);
    if (!b) {
      b = new Batch(tenantId, keysOf(tenantId));
      open.set(tenantId, b);
      if (windowMs > 0) b.timer = setTimeout(send, windowMs, b);
    }
    return b;
  }

  /** Sends the tenant's open batch, if any: what follows on the connection comes after it. */
  function sendOpen(tenantId: string): void {
    const b = open.get(tenantId);
    if (b) send(b);
  }

  /**
   * Admissions that went ahead, queued into their tenants' batches once the current turn is over (setImmediate), or
   * before whatever the limiter is asked next, whichever comes first: the order everything reaches Redis in is the
   * order it was issued, as if queued at once. Why: the request they admitted calls its upstream in the same turn,
   * and on the cold path a request meets after the gateway was idle or only forwarded stream chunks, queueing one
   * (its limits, its batch's arguments, its promise) took ~0.07–0.09 ms of the ~0.17 ms the admission took before the
   * upstream call (docs/performance.md, ninth session); after it, that time
   * overlaps the upstream's own. The ahead book counts each at once (book.sent), so the admissions that follow in
   * the same turn are judged on everything admitted before them.
   */
  type AheadQueued = { req: AdmitRequest; mark: Mark | null; rides: Rides | null; failed: (err: unknown) => void; refused: (req: AdmitRequest, r: AdmitResult) => void };
  let aheadQueue: AheadQueued[] = [];
  let aheadTimer: NodeJS.Immediate | null = null;
  function drainAhead(): void {
    if (aheadTimer === null) return;
    clearImmediate(aheadTimer);
    aheadTimer = null;
    const q = aheadQueue;
    aheadQueue = [];
    for (const a of q) {
      admitChecked(a.req, a.rides, true, a.mark).then((r) => {
        if (!r.ok) a.refused(a.req, r);
      }, a.failed);
    }
  }

  async function admitChecked(req: AdmitRequest, rides: Rides | null, lazy: boolean, sentMark?: Mark | null): Promise<AdmitResult> {
    let mark = sentMark !== undefined ? sentMark : (book?.sent(req) ?? null);
    const limits = applicableLimits(req);
    let reply = await admitOnce(req, limits, NO_SEEDS, rides, lazy);
    // A missing counter (cold start, flushed Redis, new period): seed it from the ledger and retry once.
    if (reply[0] === 'seed') {
      // The counters are gone (a new tenant or period, or flushed, evicted, reset elsewhere): the tenant's readings no
      // longer hold. The retry is the admission that counts, in a tally started afresh.
      book?.forget(req.tenantId);
      const retry = seedsFor(req.tenantId, req.budgets, reply).then((seeds) => {
        mark = book?.sent(req) ?? null;
        return admitOnce(req, limits, seeds, null, false); // the riding settlements went with the first call
      });
      seeding.set(req.requestId, retry);
      try {
        reply = await retry;
      } finally {
        seeding.delete(req.requestId);
      }
    }
    if (reply[0] === 'seed') throw new Error('limiter: budget counter still missing after seeding');
    if (reply[0] === 'k') return QUIET_OK;
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

  /**
   * Queues the admission (after its riding settlements) in its tenant's batch; sent now unless `lazy` (an admission
   * that went ahead), which leaves with the batch's timer. A budget out of range refuses it before anything is queued
   * (a RangeError, which the riding settlements hear too).
   */
  function admitOnce(req: AdmitRequest, limits: ApplicableLimit[], seeds: readonly string[], rides: Rides | null, lazy: boolean): Promise<Reply> {
    try {
      for (const b of req.budgets) checkBudget(b);
    } catch (err) {
      rides?.done(err);
      return Promise.reject(err);
    }
    const reserve = clampReserve(req.reservePico);
    let b = batchFor(req.tenantId);
    let group = b.groupOf(req, limits, seeds);
    if (group === 0) {
      send(b);
      b = batchFor(req.tenantId);
      group = b.groupOf(req, limits, seeds);
    }
    if (rides) {
      for (const s of rides.settlements) b.addSettlement(s);
      b.onAnswer(rides.done);
    }
    const reply = new Promise<Reply>((resolve, reject) => b.addAdmission(group, req, reserve, (r, err) => (r === null ? reject(err) : resolve(r)), lazy));
    if (!lazy || windowMs <= 0 || b.full) send(b);
    return reply;
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
    budgets.forEach((b, i) => args.push(counterExpiry(b), seeds[i] ?? ''));
    return asReply(await scripts.tgLimitState(...args));
  }

  return {
    status: 'up',
    admit: (req, rides) => {
      drainAhead();
      return admitChecked(req, rides ?? null, false);
    },
    admitAhead(req, failed, refused, rides) {
      const result = book?.tryAhead(req) ?? null;
      if (result === null) return null;
      // Counted now; queued after this turn or before anything else the limiter is asked (drainAhead).
      aheadQueue.push({ req, mark: book?.sent(req) ?? null, rides: rides ?? null, failed, refused });
      aheadTimer ??= setImmediate(drainAhead);
      return result;
    },
    ride(s) {
      if (seeding.has(s.requestId)) return false;
      book?.settled(s.tenantId, s.actualPico, s.actualTokens - s.estimatedTokens);
      return true;
    },
    async settle(s: Settlement) {
      drainAhead();
      const retry = seeding.get(s.requestId);
      if (retry) await retry.catch(() => {});
      book?.settled(s.tenantId, s.actualPico, s.actualTokens - s.estimatedTokens);
      // Its tenant has a batch open (admissions that went ahead): it joins the batch, behind them.
      const b = open.get(s.tenantId);
      if (b) {
        await new Promise<void>((resolve, reject) => {
          b.addSettlement(s);
          b.onAnswer((err) => (err === undefined ? resolve() : reject(err)));
          if (b.full) send(b);
        });
        return;
      }
      const k = keysOf(s.tenantId);
      const keys = [k.res, k.resx, ...s.budgets.map(k.budget)];
      await scripts.tgLimitSettle(keys.length, ...keys, s.now, s.requestId, settledPico(s), clampTokens(s.actualTokens), ttlMs);
    },
    async budgetState(tenantId, budgets) {
      drainAhead();
      sendOpen(tenantId);
      let reply = await stateOnce(tenantId, budgets, []);
      if (reply[0] === 'seed') reply = await stateOnce(tenantId, budgets, await seedsFor(tenantId, budgets, reply));
      if (reply[0] === 'seed') throw new Error('limiter: budget counter still missing after seeding');
      return budgets.map((b, i) => budgetStateOf(b, BigInt(String(reply[i + 1]))));
    },
    async resetBudgets(tenantId) {
      drainAhead();
      sendOpen(tenantId);
      book?.forget(tenantId);
      const k = keysOf(tenantId);
      await scripts.tgLimitReset(2, k.res, k.bk);
    },
    flush() {
      drainAhead();
      for (const b of [...open.values()]) send(b);
    },
    async close() {
      this.flush();
      await lastSent;
    },
  };
}
