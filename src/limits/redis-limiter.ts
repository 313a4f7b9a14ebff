// The Redis Limiter with its failure modes: fail_open onto an in-process limiter, fail_closed with 503, automatic recovery.
// Use a client from createLimiterRedis() (no offline queue, short timeouts) and wait for its `ready` before serving.
import { Redis, type RedisOptions } from 'ioredis';
import { GatewayError } from '../errors.js';
import type { AdmitRequest, AdmitResult, BudgetSpec, BudgetState, Limiter, Settlement, SpendSeeder } from './interface.js';
import { createMemoryLimiter } from './memory-limiter.js';
import { createRedisCoreLimiter, SeedError } from './redis-core.js';
import { counterId, seedUnavailable } from './shared.js';

export type LimiterStatus = 'up' | 'degraded' | 'down';

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

/** A client for the limiter (REDIS_URL comes from the config module). */
export function createLimiterRedis(url: string, extra: RedisOptions = {}): Redis {
  return new Redis(url, { ...limiterRedisOptions, ...extra });
}

/** The settlement that gives back everything an admission took (the request did not happen). */
function releaseOf(req: AdmitRequest): Settlement {
  const { requestId, tenantId, keyId, model, now, tokens, budgets } = req;
  return { requestId, tenantId, keyId, model, now, actualPico: 0n, actualTokens: 0, estimatedTokens: tokens, budgets };
}

export function createRedisLimiter(options: RedisLimiterOptions): Limiter {
  const { redis, logger } = options;
  const core = createRedisCoreLimiter(options);
  const maxPending = options.maxPendingSettlements ?? 50_000;
  let status: LimiterStatus = 'up';
  let fallback: Limiter | null = null;
  /** Requests admitted by an in-process fallback, settled there too (for its own budget view). */
  const admittedBy = new Map<string, Limiter>();
  const pending: Settlement[] = [];
  let dropped = 0;
  let replaying = false;
  let nextProbeAt = 0;
  const probeIntervalMs = options.probeIntervalMs ?? 1000;
  /** Last spend Redis reported per tenant and period: where a fallback's budgets start. */
  const lastKnown = new Map<string, { id: string; spent: bigint }>();

  // Without a listener ioredis prints every connection error; the limiter reports outages itself, once.
  const onError = () => {};
  redis.on('error', onError);
  const onReady = () => {
    nextProbeAt = 0;
    if (status !== 'up') void recover();
  };
  redis.on('ready', onReady);

  const setStatus = (s: LimiterStatus) => {
    if (s === status) return;
    status = s;
    options.onStatus?.(s);
  };

  const remember = (tenantId: string, states: BudgetState[], specs: BudgetSpec[]) => {
    states.forEach((st, i) => lastKnown.set(`${tenantId}\n${st.period}`, { id: counterId(specs[i]), spent: st.spentPico }));
  };

  const fallbackSeeder: SpendSeeder = async (tenantId, since) => {
    for (const period of ['day', 'month'] as const) {
      const known = lastKnown.get(`${tenantId}\n${period}`);
      if (known && known.id === counterId({ period, periodStart: since })) return known.spent;
    }
    try {
      return await options.seeder(tenantId, since);
    } catch (err) {
      throw seedUnavailable(err);
    }
  };

  function outage(err: unknown): void {
    nextProbeAt = Date.now() + probeIntervalMs;
    if (status !== 'up') return;
    const next: LimiterStatus = options.onFailure === 'fail_open' ? 'degraded' : 'down';
    if (next === 'degraded') fallback = createMemoryLimiter({ seeder: fallbackSeeder, reservationTtlS: options.reservationTtlS, now: options.now });
    logger?.warn(
      { err: err instanceof Error ? err.message : String(err), mode: options.onFailure },
      next === 'degraded' ? 'Redis unreachable: limiting in-process until it returns' : 'Redis unreachable: refusing requests until it returns',
    );
    setStatus(next);
  }

  function recovered(): void {
    if (status === 'up') return;
    logger?.info({ replay: pending.length, dropped }, 'Redis reachable again: limits back on Redis');
    fallback = null;
    // Requests the fallback admitted now settle on Redis alone (no record there: their actual cost is charged).
    admittedBy.clear();
    setStatus('up');
    void recover();
  }

  /** Replays settlements made while Redis was away (reservations released, actual costs charged); idempotent. */
  async function recover(): Promise<void> {
    if (replaying) return;
    replaying = true;
    try {
      while (pending.length > 0) {
        await core.settle(pending[0]);
        pending.shift();
      }
      recovered();
    } catch {
      // Still away: the next probe or `ready` event tries again.
      nextProbeAt = Date.now() + probeIntervalMs;
    } finally {
      replaying = false;
    }
  }

  // A stalled Redis (timeouts, connection still open) is probed now and then; a closed connection waits for `ready`.
  const usable = () => status === 'up' || (redis.status === 'ready' && Date.now() >= nextProbeAt);

  async function admitDegraded(req: AdmitRequest): Promise<AdmitResult> {
    if (options.onFailure === 'fail_closed' || !fallback) {
      throw new GatewayError('service_unavailable', 'Rate limits and budgets cannot be checked right now; retry shortly.', {
        headers: { 'retry-after': '1' },
      });
    }
    admittedBy.set(req.requestId, fallback);
    const result = await fallback.admit(req);
    return result.ok ? { ...result, degraded: true } : result;
  }

  function queue(s: Settlement): void {
    pending.push(s);
    if (pending.length > maxPending) {
      pending.shift();
      dropped++;
    }
  }

  return {
    get status() {
      return status;
    },
    async admit(req) {
      if (!usable()) return admitDegraded(req);
      let result: AdmitResult;
      try {
        result = await core.admit(req);
      } catch (err) {
        if (err instanceof RangeError) throw err;
        if (err instanceof SeedError) throw seedUnavailable(err);
        outage(err);
        // A timed-out script may still run on Redis later: release whatever it reserved unless this request goes ahead.
        const release = { ...releaseOf(req), budgets: [] };
        const result = await admitDegraded(req).catch((e: unknown) => {
          queue(release);
          throw e;
        });
        if (!result.ok) queue(release);
        return result;
      }
      remember(req.tenantId, result.budgets, req.budgets);
      if (status !== 'up') recovered();
      return result;
    },
    async settle(s) {
      const local = admittedBy.get(s.requestId);
      if (local) {
        admittedBy.delete(s.requestId);
        await local.settle(s);
      } else if (fallback) {
        // Admitted on Redis before the outage: keep the fallback's view of the budget current meanwhile.
        await fallback.settle(s);
      }
      if (!usable()) return queue(s);
      try {
        await core.settle(s);
      } catch (err) {
        outage(err);
        queue(s);
      }
    },
    async budgetState(tenantId, budgets) {
      if (usable()) {
        try {
          const states = await core.budgetState(tenantId, budgets);
          remember(tenantId, states, budgets);
          return states;
        } catch (err) {
          if (err instanceof SeedError) throw seedUnavailable(err);
          outage(err);
        }
      }
      if (fallback) return fallback.budgetState(tenantId, budgets);
      throw new GatewayError('service_unavailable', 'Budget state is unavailable while Redis is unreachable.');
    },
    async resetBudgets(tenantId) {
      for (const k of [...lastKnown.keys()]) if (k.startsWith(`${tenantId}\n`)) lastKnown.delete(k);
      await fallback?.resetBudgets(tenantId);
      await core.resetBudgets(tenantId);
    },
    async close() {
      redis.off('error', onError);
      redis.off('ready', onReady);
      admittedBy.clear();
    },
  };
}
