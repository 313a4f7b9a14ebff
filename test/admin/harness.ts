// Test harness: a Hono app mounting the admin routes, key auth on /v1/*, /v1/spend and a probe route, over a real store.
import { Hono } from 'hono';
import { loadConfig, type Config } from '../../src/config/index.js';
import { createAdminRoutes, createTenantSpendRoute, type AdminDeps } from '../../src/http/admin/routes.js';
import { createKeyAuth } from '../../src/http/auth.js';
import type { AppEnv } from '../../src/http/context.js';
import { createErrorHandler } from '../../src/http/errors.js';
import type { LedgerEvent } from '../../src/metering/ledger-event.js';
import type { Store } from '../../src/store/interface.js';
import { createPostgresStore } from '../../src/store/index.js';
import { createPgliteStore } from '../../src/store/pglite.js';
import { createTestDatabase } from '../support/services.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface Backend {
  name: string;
  open(): Promise<{ store: Store; close: () => Promise<void> }>;
}

export const backends: Backend[] = [
  {
    name: 'pglite',
    async open() {
      const store = createPgliteStore({});
      await store.migrate();
      return { store, close: () => store.close() };
    },
  },
  {
    name: 'postgres',
    async open() {
      const db = await createTestDatabase();
      const store = createPostgresStore({ url: db.url, max: 4 });
      await store.migrate();
      return {
        store,
        close: async () => {
          await store.close();
          await db.drop();
        },
      };
    },
  },
];

export function testConfig(): Config {
  return loadConfig({ env: { TOLLGATE_CONFIG: 'config/tollgate.yaml', TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN } });
}

/** A settable clock: tests move time instead of waiting. */
export function createClock(start = '2026-11-20T12:00:00Z'): { now: () => Date; advance: (ms: number) => void; set: (iso: string) => void } {
  let t = new Date(start).getTime();
  return { now: () => new Date(t), advance: (ms) => (t += ms), set: (iso) => (t = new Date(iso).getTime()) };
}

export interface HarnessOptions {
  store: Store;
  clock?: () => Date;
  ttlMs?: number;
  maxFailuresPerMinute?: number;
  /** Fixed client address (or per request via `x-test-ip`); 'socket' keeps the middleware's default (the TCP peer). */
  clientIp?: string;
  onPolicyChange?: (tenantId: string) => void;
  limiterStatus?: AdminDeps['limiterStatus'];
  /** Receives what the app's error handler logs. */
  errors?: object[];
}

export function createTestApp(o: HarnessOptions): Hono<AppEnv> {
  const config = testConfig();
  const clock = o.clock ?? (() => new Date());
  const app = new Hono<AppEnv>();
  // The gateway's own error handler, as createApp installs it: unknown errors are logged and become a shaped 500.
  app.onError(createErrorHandler({ error: (obj) => o.errors?.push(obj) }));
  app.route('/admin', createAdminRoutes({ store: o.store, config, clock, onPolicyChange: o.onPolicyChange, limiterStatus: o.limiterStatus }));
  app.use(
    '/v1/*',
    createKeyAuth({
      store: o.store,
      ttlMs: o.ttlMs ?? 2000,
      clock,
      maxFailuresPerMinute: o.maxFailuresPerMinute ?? 30,
      clientIp: o.clientIp === 'socket' ? undefined : (c) => c.req.header('x-test-ip') ?? o.clientIp ?? '192.0.2.1',
    }),
  );
  app.get('/v1/spend', createTenantSpendRoute({ store: o.store, clock }));
  app.get('/v1/whoami', (c) => c.json({ tenant: c.get('auth').tenant.id, key: c.get('auth').key.id }));
  return app;
}

export const admin = (extra: Record<string, string> = {}): Record<string, string> => ({
  authorization: `Bearer ${ADMIN_TOKEN}`,
  'content-type': 'application/json',
  ...extra,
});

export const bearer = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

let seq = 0;
/** A minimal ledger event for spend tests; cost in pico-USD. */
export function ledgerEvent(tenantId: string, keyId: string, startedAt: Date, costPico: bigint, model = 'gpt-4o-mini'): LedgerEvent {
  seq += 1;
  return {
    requestId: `req_admin_${process.pid}_${seq}_${Math.random().toString(36).slice(2)}`,
    tenantId,
    keyId,
    endpoint: 'chat',
    route: 'auto',
    provider: 'openai',
    model,
    stream: false,
    inputTokens: 100,
    cachedInputTokens: 0,
    outputTokens: 50,
    reasoningTokens: 0,
    usageSource: 'reported',
    costPico,
    baselineCostPico: costPico * 2n,
    savedResponseCachePico: 0n,
    savedPromptCachePico: 0n,
    savedOffPeakPico: 0n,
    priceVersion: 'test',
    status: 200,
    outcome: 'ok',
    errorCode: null,
    cacheHit: false,
    attempts: [],
    latencyMs: 10,
    ttftMs: null,
    startedAt,
  };
}
