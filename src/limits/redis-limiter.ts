// The Redis Limiter with its failure modes: fail_open onto an in-process limiter, fail_closed with 503, automatic recovery.
// Use a client from createLimiterRedis() (no offline queue, short timeouts) and wait for its `ready` before serving.
import { Redis, type RedisOptions } from 'ioredis';
import { GatewayError } from '../errors.js';
import { type AdmitRequest, type AdmitResult, type BudgetPeriod, budgetPeriods, type BudgetSpec, type BudgetState, type Limiter, type Settlement, type SpendSeeder } from './interface.js';
import { createMemoryLimiter } from './memory-limiter.js';
import type { AheadOptions } from './ahead.js';
import { createRedisCoreLimiter, type RedisCoreLimiter, type Rides, SeedError } from './redis-core.js';
import { seedUnavailable } from './shared.js';

export type LimiterStatus = 'up' | 'degraded' | 'down';
/** How an admission was decided: ahead of Redis' answer, after waiting for it, or in-process while Redis is away. */
export type AdmissionPath = 'ahead' | 'waited' | 'in_process';

/** The subset of a pino logger the limiter uses. */
export interface LimiterLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface RedisLimiterOptions {
  redis: Redis;
  seeder: SpendSeeder;
  onFailure: 'fail_open' | 'fail_closed';
  reservationTtlS: number;
  logger?: LimiterLogger;
  onStatus?: (s: LimiterStatus) => void;
  keyPrefix?: string;
  /** Clock for budgetState() (admit and settle carry their own `now`). */
  now?: () => number;
  /** While Redis is away, at most one request per this many ms tries it (the others do not wait for its timeout). */
  probeIntervalMs?: number;
  /** Settlements kept while Redis is away, replayed when it returns (oldest dropped beyond this). */
  maxPendingSettlements?: number;
  /** Admission without waiting for Redis far from every limit (src/limits/ahead.ts); absent = always wait. */
  ahead?: AheadOptions;
  /** How long admissions that went ahead gather per tenant into one script call (default LAZY_MS; 0 = one call each). */
  batchWindowMs?: number;
  /** Redis refused an admission that had gone ahead (another instance took the room): for a metric. */
  onRefusedAhead?: (req: AdmitRequest, result: AdmitResult) => void;
  /** Each admission: ahead of Redis' answer, after waiting for it, or by the in-process fallback (for a metric). */
  onAdmission?: (path: AdmissionPath) => void;
}

/** ioredis options under which a dead Redis fails within milliseconds instead of queueing requests. */
export const limiterRedisOptions: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  // Long enough not to mistake a busy event loop for a dead Redis, short enough to fail over within a request.
  commandTimeout: 1000,
  connectTimeout: 1000,
  // Keep reconnecting for ever, at most once a second: the limiter switches back by itself.
  retryStrategy: (times: number) => Math.min(times * 100, 1000),
};

/**
 * A client whose commands issued in one turn of the event loop leave in one socket write: the socket is corked at
 * the first command and uncorked by setImmediate, when every request that arrived in the same poll has issued its
 * own. The batching ioredis' enableAutoPipelining does (a settlement rides on the next admission, many requests'
 * EVALSHA share one write and one Redis read), without a Pipeline object per batch: each Pipeline defines a
 * per-instance accessor that keeps it, and the commands and buffers it holds, alive through young-generation
 * collections (12.0 → 7.3 KB promoted per gateway request without them: bench/promotion-probe.ts).
 * Commands sent through `sendLazily` (an admission that went ahead, nobody awaits its answer) may wait up to LAZY_MS
 * for company instead: at one request at a time Redis was otherwise woken for every request (see LAZY_MS). Any other
 * command sends the whole batch at setImmediate, in the order the commands were issued.
 */
class BatchingRedis extends Redis {
  /** Set by sendLazily while it runs. */
  lazy = false;
  private corked: Redis['stream'] | null = null;
  private soon: NodeJS.Immediate | null = null;
  private later: NodeJS.Timeout | null = null;
  private readonly uncork = (): void => {
    if (this.soon) clearImmediate(this.soon);
    if (this.later) clearTimeout(this.later);
    this.soon = null;
    this.later = null;
    const s = this.corked;
    this.corked = null;
    s?.uncork();
  };

  override sendCommand(...args: Parameters<Redis['sendCommand']>): unknown {
    const s = this.stream;
    if (args[1] === undefined && this.status === 'ready' && s?.writable) {
      if (this.corked === null) {
        s.cork();
        this.corked = s;
      }
      // (A cork still held on a stream replaced by a reconnect is released by its own timer.)
      if (this.corked === s) {
        if (!this.lazy) this.soon ??= setImmediate(this.uncork);
        else if (this.soon === null) this.later ??= setTimeout(this.uncork, LAZY_MS);
      }
    }
    return super.sendCommand(...args);
  }
}

/**
 * How long a command sent lazily may wait for others to share its socket write. At one connection (~1 000 requests a
 * second on the bench) every admission woke Redis on its own: 0.13 ms of Redis CPU per request against 0.06 when
 * requests share writes (bench, 2026-12-06). An admission that went ahead is not awaited, settlements already wait up
 * to SETTLE_DEFER_MS, and Redis sees everything in the order it was issued; what the wait costs is that the tenant's
 * readings (src/limits/ahead.ts) and other replicas see this replica's admissions up to this much later.
 * Since 2026-12-07 it is also how long a tenant's admissions that went ahead gather into one call of the batch script
 * (src/limits/redis-core.ts): at 32 connections on the bench, Redis' CPU per request 0.054 → 0.035 ms and the
 * gateway's 0.250 → 0.222 ms against one script call per admission (docs/performance.md).
 * 10 ms rather than 5 since 2026-12-08: a script call costs Redis and the gateway more than the operations in it.
 * Side by side against 5 ms (bench/ab-throughput.ts, 7 rounds): Redis' CPU per request 0.038 → 0.030 ms, the one-
 * connection p99 1.87 → 1.98 ms. 20 ms took no more off Redis (0.037 → 0.030) but put the p99 at 2.82 ms (1.98 at
 * 5): on a core Redis shares, each call's script is a stall for the request in flight, four times as long. The
 * readings of other replicas are already up to AheadOptions.maxAgeMs (seconds) old; this replica's own admissions in
 * flight are counted by its ahead book.
 */
export const LAZY_MS = 10;

/**
 * Runs `send(a, b)`; the commands it issues on a limiter client may wait up to LAZY_MS for company (see
 * BatchingRedis). The arguments are passed through so that a caller on the request path need not build a closure per
 * call.
 */
export function sendLazily<A, B, T>(redis: Redis, send: (a: A, b: B) => T, a: A, b: B): T {
  if (!(redis instanceof BatchingRedis)) return send(a, b);
  redis.lazy = true;
  try {
    return send(a, b);
  } finally {
    redis.lazy = false;
  }
}

/** A client for the limiter (REDIS_URL comes from the config module). */
export function createLimiterRedis(url: string, extra: RedisOptions = {}): Redis {
  // The limiter parses RESP2 replies (the default mapping, which is what the subclass's constructor is typed for).
  return new BatchingRedis(url, { ...limiterRedisOptions, ...extra, replyMapping: 'legacy' });
}

/** The settlement that gives back whatever an admission may have taken on Redis (the request did not go ahead). */
function releaseOf(req: AdmitRequest): Settlement {
  const { requestId, tenantId, keyId, model, now, tokens } = req;
  return { requestId, tenantId, keyId, model, now, actualPico: 0n, actualTokens: 0, estimatedTokens: tokens, budgets: [] };
}

const isLocalError = (err: unknown) => err instanceof RangeError || err instanceof SeedError;

/**
 * How long a settlement may wait for a Redis write to ride on. Each one is otherwise a socket write of its own (a
 * tenth of the gateway's CPU under load, most of it the write syscall); deferred, it goes out with the next admission
 * or state read, which flushes them first (so Redis sees the same order), or with this timer (below ~40 req/s).
 * `now` travels inside the settlement, so the delay changes no refill and no charge, only when the reservation turns
 * into the actual cost.
 */
const SETTLE_DEFER_MS = 25;

/**
 * Most deferred settlements of a tenant that ride inside one admission's script (the batch script) instead of a script call
 * each: a script call costs Redis more than the settlement's own commands (bench/redis-probe.ts), and a settlement
 * that rides needs no keep-alive of the reservation keys or prune of its own.
 */
const MAX_RIDES = 64;

type Deferred = { s: Settlement; done: () => void };

/** Redis first; on an outage the in-process fallback (fail_open) or 503 (fail_closed); settlements replayed on return. */
class FailoverLimiter implements Limiter {
  private state: LimiterStatus = 'up';
  private readonly core: RedisCoreLimiter;
  private fallback: Limiter | null = null;
  /** Requests admitted by an in-process fallback, settled there too (for its own budget view). */
  private readonly admittedBy = new Map<string, Limiter>();
  private readonly pending: Settlement[] = [];
  /** Settlements waiting to go out with the next Redis command (see SETTLE_DEFER_MS). */
  private deferred: Deferred[] = [];
  private deferTimer: NodeJS.Timeout | null = null;
  /** The settlements sent by the last flush: Redis answers one connection in order, so awaiting these awaits all. */
  private lastFlush: Promise<unknown> = Promise.resolve();
  /** Admissions carrying settlements whose answer has not come yet, and close() waiting for them to reach 0. */
  private ridesOut = 0;
  /** What every close() waits on while rides are out (one promise, however many callers). */
  private ridesLanded: { promise: Promise<void>; resolve: () => void } | null = null;
  private dropped = 0;
  private lastAheadWarning = -Infinity;
  private replaying = false;
  private nextProbeAt = 0;
  /** Last spend Redis reported per tenant and period (and the period's start): where a fallback's budgets start. */
  private readonly lastKnown = new Map<string, Partial<Record<BudgetPeriod, { start: number; spent: bigint }>>>();
  // Without an error listener ioredis prints every connection error; the limiter reports an outage itself, once.
  private readonly onError = () => {};
  private readonly onReady = () => {
    this.nextProbeAt = 0;
    if (this.state !== 'up') void this.replay();
  };

  constructor(private readonly options: RedisLimiterOptions) {
    this.core = createRedisCoreLimiter({ ...options, batchWindowMs: options.batchWindowMs ?? LAZY_MS });
    options.redis.on('error', this.onError);
    options.redis.on('ready', this.onReady);
  }

  get status(): LimiterStatus {
    return this.state;
  }

  async admit(req: AdmitRequest): Promise<AdmitResult> {
    let rides: Rides | null = null;
    if (this.state === 'up') {
      // The tenant's deferred settlements ride inside its admission; the others' are sent before it.
      rides = this.takeRides(req.tenantId);
      // Lazily: an admission that goes ahead, and the settlements sent before it, may wait LAZY_MS for company; one
      // that waits for its answer sends them all at once (the same socket, in this order).
      const ahead = sendLazily(this.options.redis, this.sendAhead, req, rides);
      if (ahead) {
        this.remember(req.tenantId, ahead.budgets, req.budgets);
        this.options.onAdmission?.('ahead');
        return ahead;
      }
    } else this.flushSettles();
    if (!this.usable()) return this.admitDegraded(req); // never with rides: they are only taken while up
    let result: AdmitResult;
    try {
      result = await this.core.admit(req, rides);
    } catch (err) {
      if (isLocalError(err)) throw err instanceof SeedError ? seedUnavailable(err) : err;
      this.outage(err);
      // A timed-out script may still run on Redis later: give back what it took unless this request goes ahead.
      const degraded = await this.admitDegraded(req).catch((e: unknown) => {
        this.queue(releaseOf(req));
        throw e;
      });
      if (!degraded.ok) this.queue(releaseOf(req));
      return degraded;
    }
    this.remember(req.tenantId, result.budgets, req.budgets);
    if (this.state !== 'up') this.recovered();
    this.options.onAdmission?.('waited');
    return result;
  }

  /** The deferred settlements, then the admission if it may go ahead (null: it must wait for Redis' answer). */
  private readonly sendAhead = (req: AdmitRequest, rides: Rides | null): AdmitResult | null => {
    this.flushSettles();
    return this.core.admitAhead(req, this.aheadFailed, this.refusedAhead, rides);
  };

  /** The tenant's deferred settlements that can ride inside its admission (see MAX_RIDES), taken out of the queue. */
  private takeRides(tenantId: string): Rides | null {
    const deferred = this.deferred;
    if (deferred.length === 0) return null;
    let taken: Deferred[] | null = null;
    let rest: Deferred[] | null = null;
    for (const d of deferred) {
      if (d.s.tenantId === tenantId && (taken === null || taken.length < MAX_RIDES) && this.core.ride(d.s)) (taken ??= []).push(d);
      else (rest ??= []).push(d);
    }
    if (taken === null) return null;
    if (rest === null) deferred.length = 0; // all of them ride (one tenant): no new array
    else this.deferred = rest;
    const rides = taken;
    this.ridesOut++;
    return {
      settlements: rides.map((d) => d.s),
      done: (err?: unknown) => {
        if (err === undefined) for (const d of rides) d.done();
        // Refused before sending (a budget out of range): on their own, now. The ahead book counts them a second time,
        // which only errs on the safe side (fewer admissions go ahead) and needs a misconfigured budget.
        else if (err instanceof RangeError) this.sendSettles(rides);
        else {
          this.outage(err);
          for (const d of rides) {
            this.queue(d.s); // replayed on Redis' return; applied twice is applied once (a settled request's tombstone)
            d.done();
          }
        }
        if (--this.ridesOut === 0 && this.ridesLanded) {
          this.ridesLanded.resolve();
          this.ridesLanded = null;
        }
      },
    };
  }

  /** The admission of a request that went ahead failed: the request is served; its settlement will follow. */
  private readonly aheadFailed = (err: unknown): void => {
    if (isLocalError(err)) {
      this.warnAhead({ err: err instanceof Error ? err.message : String(err) }, 'an admission sent ahead of Redis could not seed its budget counters');
      return;
    }
    this.outage(err);
  };

  private readonly refusedAhead = (req: AdmitRequest, result: AdmitResult): void => {
    this.options.onRefusedAhead?.(req, result);
    this.warnAhead(
      { tenant: req.tenantId, reason: result.ok ? undefined : result.reason },
      'Redis refused an admission that had gone ahead (another instance used the headroom): the request is served and charged',
    );
  };

  /** At most one line per 10 s: these come in bursts (every request of the reading's age). */
  private warnAhead(obj: object, msg: string): void {
    const now = Date.now();
    if (now - this.lastAheadWarning < 10_000) return;
    this.lastAheadWarning = now;
    this.options.logger?.warn(obj, msg);
  }

  settle(s: Settlement): Promise<void> {
    const local = this.admittedBy.get(s.requestId);
    this.admittedBy.delete(s.requestId);
    // Admitted in-process, or on Redis before the outage: either way the fallback's view of the budget stays current.
    const inProcess = local ?? this.fallback;
    // Deferred synchronously when there is no in-process limiter, so that a read issued right after sees it.
    return inProcess ? inProcess.settle(s).then(() => this.defer(s)) : this.defer(s);
  }

  private defer(s: Settlement): Promise<void> {
    if (!this.usable()) {
      this.queue(s);
      return Promise.resolve();
    }
    return new Promise<void>((done) => {
      this.deferred.push({ s, done });
      this.deferTimer ??= setTimeout(() => this.flushSettles(), SETTLE_DEFER_MS).unref();
    });
  }

  /** Sends the deferred settlements now, in order, ahead of any command issued after it (one socket write together). */
  private flushSettles(): void {
    if (this.deferTimer) clearTimeout(this.deferTimer);
    this.deferTimer = null;
    if (this.deferred.length === 0) return;
    const batch = this.deferred;
    this.deferred = [];
    this.sendSettles(batch);
  }

  /** Sends settlements one script call each, in order; on failure they wait for Redis' return (pending). */
  private sendSettles(batch: Deferred[]): void {
    this.lastFlush = Promise.all(
      batch.map(({ s, done }) => {
        if (!this.usable()) {
          this.queue(s);
          return done();
        }
        const failed = (err: unknown) => {
          this.outage(err);
          this.queue(s);
        };
        return this.core.settle(s).catch(failed).then(done);
      }),
    );
  }

  async budgetState(tenantId: string, budgets: BudgetSpec[]): Promise<BudgetState[]> {
    this.flushSettles();
    if (this.usable()) {
      try {
        const states = await this.core.budgetState(tenantId, budgets);
        this.remember(tenantId, states, budgets);
        return states;
      } catch (err) {
        if (isLocalError(err)) throw err instanceof SeedError ? seedUnavailable(err) : err;
        this.outage(err);
      }
    }
    if (this.fallback) return this.fallback.budgetState(tenantId, budgets);
    throw new GatewayError('service_unavailable', 'Budget state is unavailable while Redis is unreachable.');
  }

  async resetBudgets(tenantId: string): Promise<void> {
    this.lastKnown.delete(tenantId);
    await this.fallback?.resetBudgets(tenantId);
    this.flushSettles();
    await this.core.resetBudgets(tenantId);
  }

  async close(): Promise<void> {
    this.flushSettles();
    // The tenants' open batches (admissions that went ahead, the settlements and rides that joined them) leave now.
    const sent = this.core.close();
    if (this.ridesOut > 0) {
      if (!this.ridesLanded) {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => (resolve = r));
        this.ridesLanded = { promise, resolve };
      }
      await this.ridesLanded.promise;
    }
    await this.lastFlush;
    await sent;
    this.options.redis.off('error', this.onError);
    this.options.redis.off('ready', this.onReady);
    this.admittedBy.clear();
  }

  // A stalled Redis (timeouts, connection still open) is probed now and then; a closed connection waits for `ready`.
  private usable(): boolean {
    return this.state === 'up' || (this.options.redis.status === 'ready' && Date.now() >= this.nextProbeAt);
  }

  private setStatus(s: LimiterStatus): void {
    if (s === this.state) return;
    this.state = s;
    this.options.onStatus?.(s);
  }

  /** On every admission: updated in place (no key string, no counter id, no record per request once a tenant is known). */
  private remember(tenantId: string, states: BudgetState[], specs: BudgetSpec[]): void {
    if (states.length === 0) return;
    let known = this.lastKnown.get(tenantId);
    if (!known) this.lastKnown.set(tenantId, (known = {}));
    for (let i = 0; i < states.length; i++) {
      const start = specs[i].periodStart.getTime();
      const spent = states[i].spentPico;
      const k = known[states[i].period];
      if (k) {
        k.start = start;
        k.spent = spent;
      } else known[states[i].period] = { start, spent };
    }
  }

  private readonly fallbackSeeder: SpendSeeder = async (tenantId, since) => {
    const known = this.lastKnown.get(tenantId);
    for (const period of budgetPeriods) {
      const k = known?.[period];
      if (k && k.start === since.getTime()) return k.spent;
    }
    try {
      return await this.options.seeder(tenantId, since);
    } catch (err) {
      throw seedUnavailable(err);
    }
  };

  private outage(err: unknown): void {
    this.nextProbeAt = Date.now() + (this.options.probeIntervalMs ?? 1000);
    if (this.state !== 'up') return;
    const { onFailure, reservationTtlS, now } = this.options;
    const next: LimiterStatus = onFailure === 'fail_open' ? 'degraded' : 'down';
    if (next === 'degraded') this.fallback = createMemoryLimiter({ seeder: this.fallbackSeeder, reservationTtlS, now });
    this.options.logger?.warn(
      { err: err instanceof Error ? err.message : String(err), mode: onFailure },
      next === 'degraded' ? 'Redis unreachable: limiting in-process until it returns' : 'Redis unreachable: refusing requests until it returns',
    );
    this.setStatus(next);
  }

  private recovered(): void {
    if (this.state === 'up') return;
    this.options.logger?.info({ replay: this.pending.length, dropped: this.dropped }, 'Redis reachable again: limits back on Redis');
    this.fallback = null;
    // Requests the fallback admitted now settle on Redis alone (no record there: their actual cost is charged).
    this.admittedBy.clear();
    this.setStatus('up');
    void this.replay();
  }

  /** Replays settlements made while Redis was away (reservations released, actual costs charged); idempotent. */
  private async replay(): Promise<void> {
    if (this.replaying) return;
    this.replaying = true;
    try {
      while (this.pending.length > 0) {
        await this.core.settle(this.pending[0]);
        this.pending.shift();
      }
      this.recovered();
    } catch {
      // Still away: the next probe or `ready` event tries again.
      this.nextProbeAt = Date.now() + (this.options.probeIntervalMs ?? 1000);
    } finally {
      this.replaying = false;
    }
  }

  private async admitDegraded(req: AdmitRequest): Promise<AdmitResult> {
    if (this.options.onFailure === 'fail_closed' || !this.fallback) {
      throw new GatewayError('service_unavailable', 'Rate limits and budgets cannot be checked right now; retry shortly.', {
        headers: { 'retry-after': '1' },
      });
    }
    const fallback = this.fallback;
    const result = await fallback.admit(req);
    if (!result.ok) return result;
    this.admittedBy.set(req.requestId, fallback);
    this.options.onAdmission?.('in_process');
    return { ...result, degraded: true };
  }

  private queue(s: Settlement): void {
    this.pending.push(s);
    if (this.pending.length > (this.options.maxPendingSettlements ?? 50_000)) {
      this.pending.shift();
      this.dropped++;
    }
  }
}

export function createRedisLimiter(options: RedisLimiterOptions): Limiter {
  return new FailoverLimiter(options);
}
