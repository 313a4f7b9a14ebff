// Builds every dependency of the gateway once, from the config: store, ledger, limiter, providers, router state, metrics.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import type { Config } from './config/index.js';
import { resolveAdminToken } from './http/admin/admin-auth.js';
import type { Logger } from './logger.js';
import type { AppDeps } from './app.js';
import { createStore } from './store/index.js';
import { createLedgerWriter } from './metering/ledger-writer.js';
import { createStoreLedgerSink, isPermanentLedgerError } from './metering/ledger-sink.js';
import { createLimiterRedis, createRedisLimiter } from './limits/redis-limiter.js';
import { createMemoryLimiter } from './limits/memory-limiter.js';
import type { Limiter } from './limits/interface.js';
import { createProviders } from './providers/index.js';
import { createHealth } from './routing/health.js';
import { createAffinity } from './routing/affinity.js';
import { createMetrics } from './metrics/metrics.js';
import { installBudgetCollector } from './metrics/budget-collector.js';
import { createTenantStateCache } from './gateway/deps.js';
import { createStreamLimiter } from './limits/streams.js';
import { createRedactor } from './gateway/upstream-errors.js';
import type { Store } from './store/interface.js';
import type { ResponseCache } from './cache/interface.js';
import { createRedisCache } from './cache/redis-cache.js';
import { createMemoryCache } from './cache/memory-cache.js';

export interface BuildOptions {
  clock?: () => Date;
  /** Use this store instead of creating one from the config (tests). */
  store?: Store;
}

export interface Built {
  deps: AppDeps;
  limiterKind: 'redis' | 'memory';
  close(): Promise<void>;
}

/** The admin token: from the env, else generated once into the data dir and printed at first start. */
function adminTokenFor(config: Config, logger: Logger): string {
  const { token, generated } = resolveAdminToken({ configured: config.env.TOLLGATE_ADMIN_TOKEN, dataDir: config.env.TOLLGATE_DATA_DIR });
  if (generated) {
    const file = join(config.env.TOLLGATE_DATA_DIR, 'admin-token');
    logger.warn({ file }, 'generated an admin token (TOLLGATE_ADMIN_TOKEN unset)');
    process.stdout.write(`Admin token (stored in ${file}): ${token}\n`);
  }
  return token;
}

export async function buildDeps(config: Config, logger: Logger, options: BuildOptions = {}): Promise<Built> {
  const clock = options.clock ?? (() => new Date());
  const dataDir = config.env.TOLLGATE_DATA_DIR;
  mkdirSync(dataDir, { recursive: true });

  const store = options.store ?? (await createStore(config));
  await store.migrate();

  const knownModels = new Set(config.catalog.models.map((m) => m.id));
  const metrics = createMetrics({ maxTenantLabels: config.file.metrics.max_tenant_labels, knownModels });

  const ledger = createLedgerWriter({
    sink: createStoreLedgerSink(store),
    // Rows Postgres rejects for good (data errors) are set aside instead of blocking their batch for ever.
    isPermanentError: isPermanentLedgerError,
    spoolDir: dataDir,
    batchSize: config.file.ledger.batch_size,
    flushIntervalMs: config.file.ledger.flush_interval_ms,
    maxQueue: config.file.ledger.max_queue,
    logger,
    onStats: (s) => metrics.setLedgerStats(s),
  });

  const seeder = (tenantId: string, since: Date) => store.tenantCostSince(tenantId, since);
  let redis: Redis | null = null;
  let limiter: Limiter;
  if (config.env.REDIS_URL) {
    // Commands batched per event-loop turn (BatchingRedis): under concurrency the EVALSHA of many requests share one
    // socket write (the largest native cost in the profile); each request still makes one round trip on admission.
    redis = createLimiterRedis(config.env.REDIS_URL);
    // Wait (briefly) for the connection so that the first requests do not find the limiter degraded.
    await Promise.race([
      new Promise<void>((resolve) => {
        if (redis!.status === 'ready') resolve();
        else redis!.once('ready', () => resolve());
      }),
      new Promise<void>((resolve) => setTimeout(resolve, 3_000).unref()),
    ]);
    if (redis.status !== 'ready') logger.warn('Redis is not reachable at start; limits run in-process until it is');
    redis.on('error', () => {}); // the limiter reports Redis state; ioredis reconnects by itself
    limiter = createRedisLimiter({
      redis,
      seeder,
      onFailure: config.file.limits.on_redis_failure,
      reservationTtlS: config.file.limits.reservation_ttl_s,
      logger,
      onStatus: (s) => metrics.setRedisUp(s === 'up'),
      ahead: {
        headroom: config.file.limits.admit_ahead_headroom,
        maxAgeMs: config.file.limits.admit_ahead_max_age_ms,
        roomRequests: config.file.limits.admit_ahead_room_requests,
      },
      onRefusedAhead: (_req, r) => metrics.refusedAhead(r.ok ? 'unknown' : r.reason),
      onAdmission: (path) => metrics.limiterAdmission(path),
    });
    metrics.setRedisUp(true);
  } else {
    logger.info('REDIS_URL unset: rate limits and budgets are enforced in-process (one instance only)');
    limiter = createMemoryLimiter({ seeder, reservationTtlS: config.file.limits.reservation_ttl_s });
  }

  const providers = createProviders(config);
  for (const [name, why] of providers.missing) logger.warn({ provider: name }, `provider disabled: ${why}`);

  const health = createHealth({
    failureThreshold: config.file.circuit.failures,
    windowMs: config.file.circuit.window_ms,
    openMs: config.file.circuit.open_ms,
    now: () => Date.now(),
    onChange: (ch) => metrics.setCircuit(ch.provider, ch.model, ch.to !== 'closed') });
  // One Redis client for the limiter and the response cache; without Redis, an in-process LRU (64 MiB).
  const responseCache: ResponseCache = redis ? createRedisCache({ redis }) : createMemoryCache({ maxBytes: 64 * 1024 * 1024, now: () => clock().getTime() });
  const affinity = createAffinity({ maxEntries: 50_000, ttlMs: 10 * 60_000, now: () => Date.now() });

  installBudgetCollector({ metrics, listTenants: () => store.listTenants(), limiter, clock });
  metrics.addCollector(() => metrics.setLedgerStats(ledger.stats()));

  const deps: AppDeps = {
    config,
    clock,
    store,
    limiter,
    ledger,
    metrics,
    providers: providers.providers,
    missingProviders: providers.missing,
    health,
    affinity,
    responseCache,
    logger,
    tenantState: createTenantStateCache(),
    streams: createStreamLimiter(),
    redact: createRedactor([config.env.OPENAI_API_KEY, config.env.DEEPSEEK_API_KEY, config.env.GEMINI_API_KEY, config.env.TOLLGATE_ADMIN_TOKEN]),
    adminToken: adminTokenFor(config, logger),
    metricsToken: config.env.TOLLGATE_METRICS_TOKEN,
    readiness: async () => ({
      database: await store.ping().then(
        () => true,
        () => false,
      ),
      redis: redis
        ? await redis.ping().then(
            () => true,
            () => false,
          )
        : true,
    }),
  };

  return {
    deps,
    limiterKind: redis ? 'redis' : 'memory',
    async close() {
      await ledger.close();
      await limiter.close();
      if (redis) redis.disconnect();
      await providers.close();
      await store.close();
    },
  };
}
