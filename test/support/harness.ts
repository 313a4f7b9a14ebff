// Integration harness: the simulator as the three providers, a real store, the whole app served on a random port.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import postgres from 'postgres';
import { serve, type ServerType } from '@hono/node-server';
import { loadConfig, type Config } from '../../src/config/index.js';
import type { FileConfig } from '../../src/config/schema.js';
import { buildDeps, type Built } from '../../src/deps-factory.js';
import { createApp } from '../../src/app.js';
import { httpServerOptions, installClientErrorHandler } from '../../src/http/server-options.js';
import { silentLogger } from '../../src/logger.js';
import { createPostgresStore } from '../../src/store/index.js';
import { createPgliteStore } from '../../src/store/pglite.js';
import { policySchema, type PolicyInput } from '../../src/routing/policy.js';
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator/index.js';
import type { Tenant } from '../../src/store/interface.js';
import { createTestDatabase, REDIS_URL } from './services.js';

export interface HarnessOptions {
  /** `postgres` (a private database on the real server, default) or `pglite` (embedded, in-memory). */
  store?: 'pglite' | 'postgres';
  /** Use the real Redis (default: in-process limiter). */
  redis?: boolean;
  clock?: () => Date;
  sim?: SimulatorOptions;
  /** Providers to leave without a key. */
  withoutKeys?: Array<'openai' | 'deepseek' | 'gemini'>;
  env?: Record<string, string>;
  overrides?: Partial<FileConfig>;
}

export interface Harness {
  url: string;
  /** The app itself, for requests that do not go through the Node server (app.request). */
  app: ReturnType<typeof createApp>;
  baseURL: string;
  sim: Simulator;
  built: Built;
  config: Config;
  adminToken: string;
  /** URL of the private test database (postgres store only). */
  dbUrl: string | null;
  /** A client on that database for the test's own queries, made on first use and ended by close(); postgres store only. */
  sql(): postgres.Sql;
  createTenant(name: string, policy?: PolicyInput): Promise<{ tenant: Tenant; key: string }>;
  admin(path: string, init?: RequestInit): Promise<Response>;
  /** Waits until every queued ledger event is written. */
  flushLedger(): Promise<void>;
  close(): Promise<void>;
}

export const ADMIN_TOKEN = 'tga_test_admin_token_0123456789';

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const sim = await startSimulator({ ...options.sim });
  const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-test-'));
  const without = new Set(options.withoutKeys ?? []);
  const env: Record<string, string> = {
    TOLLGATE_DATA_DIR: dataDir,
    TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN,
    OPENAI_BASE_URL: sim.baseUrls.openai,
    DEEPSEEK_BASE_URL: sim.baseUrls.deepseek,
    GEMINI_BASE_URL: sim.baseUrls.gemini,
    LOG_LEVEL: 'silent',
    ...(without.has('openai') ? {} : { OPENAI_API_KEY: 'sk-sim-openai' }),
    ...(without.has('deepseek') ? {} : { DEEPSEEK_API_KEY: 'sk-sim-deepseek' }),
    ...(without.has('gemini') ? {} : { GEMINI_API_KEY: 'sim-gemini-key' }),
    ...(options.redis ? { REDIS_URL } : {}),
    ...options.env,
  };
  const config = loadConfig({ env, overrides: { ledger: { batch_size: 100, flush_interval_ms: 20, max_queue: 20_000 }, ...options.overrides } });
  let dropDb: (() => Promise<void>) | null = null;
  let dbUrl: string | null = null;
  let store;
  if ((options.store ?? 'postgres') === 'postgres') {
    const db = await createTestDatabase();
    dropDb = db.drop;
    dbUrl = db.url;
    store = createPostgresStore({ url: db.url });
  } else {
    store = createPgliteStore({});
  }
  const built = await buildDeps(config, silentLogger(), { clock: options.clock, store });
  const app = createApp(built.deps);
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1', serverOptions: httpServerOptions(config.file.server) }, () => resolve(s));
  });
  installClientErrorHandler(server);
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  let sql: postgres.Sql | null = null;
  const admin = (path: string, init: RequestInit = {}) =>
    fetch(`${url}/admin${path}`, {
      ...init,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json', ...(init.headers ?? {}) },
    });

  return {
    url,
    baseURL: `${url}/v1`,
    sim,
    built,
    config,
    app,
    adminToken: ADMIN_TOKEN,
    dbUrl,
    sql() {
      if (!dbUrl) throw new Error('the harness must use the real Postgres (store: postgres)');
      return (sql ??= postgres(dbUrl, { max: 2, onnotice: () => {} }));
    },
    admin,
    async createTenant(name, policy = {}) {
      const tenant = await built.deps.store.createTenant({ name, policy: policySchema.parse(policy) });
      const created = await built.deps.store.createKey(tenant.id, 'test');
      if (!created) throw new Error('key creation failed');
      return { tenant, key: created.secret };
    },
    async flushLedger() {
      await built.deps.ledger.flush();
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      await built.close();
      await sim.close();
      await sql?.end({ timeout: 1 });
      if (dropDb) await dropDb();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
