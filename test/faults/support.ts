// Fault-suite helpers: a private database, a simulator, gateway processes configured by YAML, tenants, ledger reads.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import postgres from 'postgres';
import { stringify } from 'yaml';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { spawnGateway, type GatewayProcess } from '../support/process.js';
import { createTestDatabase, DATABASE_URL, REDIS_URL } from '../support/services.js';

export const ADMIN_TOKEN = 'faults-admin-token-0123456789';
const CATALOG = resolve('config/models.yaml');

/**
 * Values that keep faults short without turning a busy machine into false timeouts (the simulator shares the test
 * worker's event loop, and the whole suite runs on two cores): upstream timeouts of 10 s, a ledger that flushes quickly.
 */
export const fastConfig = {
  server: { shutdown_grace_ms: 10_000 },
  upstream: { connect_timeout_ms: 5_000, timeout_ms: 10_000, stream_idle_timeout_ms: 10_000 },
  ledger: { batch_size: 50, flush_interval_ms: 50, max_queue: 20_000 },
  auth_cache_ttl_s: 1,
};

export interface Stack {
  sim: Simulator;
  dbUrl: string;
  dbName: string;
  /** A connection to the private database (for ledger reads), and one to the server (for cutting connections). */
  sql: postgres.Sql;
  server: postgres.Sql;
  dirs: string[];
  gateways: GatewayProcess[];
  /** Starts one gateway process on this stack; `config` is merged over fastConfig at the top level. */
  gateway(options?: { config?: Record<string, unknown>; redisUrl?: string | null; env?: Record<string, string>; direct?: boolean }): Promise<GatewayProcess>;
  cutDatabase(): Promise<void>;
  restoreDatabase(): Promise<void>;
  close(): Promise<void>;
}

export async function startStack(simOptions: Parameters<typeof startSimulator>[0] = {}): Promise<Stack> {
  const db = await createTestDatabase();
  const dbName = new URL(db.url).pathname.slice(1);
  const sim = await startSimulator({ latencyMs: 0, ttftMs: 0, chunkDelayMs: 0, ...simOptions });
  const sql = postgres(db.url, { max: 2, onnotice: () => {} });
  const server = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
  const dirs: string[] = [];
  const gateways: GatewayProcess[] = [];
  return {
    sim,
    dbUrl: db.url,
    dbName,
    sql,
    server,
    dirs,
    gateways,
    async gateway(options = {}) {
      const dir = mkdtempSync(join(tmpdir(), 'tollgate-faults-'));
      dirs.push(dir);
      const configPath = join(dir, 'tollgate.yaml');
      writeFileSync(configPath, stringify({ ...fastConfig, ...options.config, catalog: CATALOG }));
      const redisUrl = options.redisUrl === undefined ? REDIS_URL : options.redisUrl;
      const gw = await (options.direct ? spawnDirect : spawnGateway)({
        DATABASE_URL: db.url,
        ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
        TOLLGATE_DATA_DIR: join(dir, 'data'),
        TOLLGATE_CONFIG: configPath,
        TOLLGATE_ADMIN_TOKEN: ADMIN_TOKEN,
        OPENAI_API_KEY: 'sk-sim-openai',
        DEEPSEEK_API_KEY: 'sk-sim-deepseek',
        GEMINI_API_KEY: 'sim-gemini-key',
        OPENAI_BASE_URL: sim.baseUrls.openai,
        DEEPSEEK_BASE_URL: sim.baseUrls.deepseek,
        GEMINI_BASE_URL: sim.baseUrls.gemini,
        LOG_LEVEL: 'warn',
        ...options.env,
      });
      gateways.push(gw);
      return gw;
    },
    async cutDatabase() {
      await server.unsafe(`ALTER DATABASE ${dbName} WITH ALLOW_CONNECTIONS false`);
      await server.unsafe(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${dbName}' AND pid <> pg_backend_pid()`);
    },
    async restoreDatabase() {
      await server.unsafe(`ALTER DATABASE ${dbName} WITH ALLOW_CONNECTIONS true`);
    },
    async close() {
      // A process already gone (killed by a test) has no exit event left to wait for.
      const alive = gateways.filter((g) => g.child.exitCode === null && g.child.signalCode === null);
      await Promise.all(alive.map((g) => g.stop('SIGKILL').catch(() => null)));
      await server.unsafe(`ALTER DATABASE ${dbName} WITH ALLOW_CONNECTIONS true`).catch(() => {});
      await sql.end({ timeout: 1 }).catch(() => {});
      await server.end({ timeout: 1 }).catch(() => {});
      await sim.close();
      await db.drop();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}

export async function adminCall(gw: GatewayProcess, path: string, init: { method?: string; body?: unknown } = {}): Promise<Response> {
  return fetch(`${gw.url}/admin${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
}

export interface TenantKey {
  tenantId: string;
  keyId: string;
  key: string;
}

/** Creates a tenant with a policy and one key through the admin API of a running gateway. */
export async function createTenant(gw: GatewayProcess, name: string, policy: Record<string, unknown> = {}): Promise<TenantKey> {
  const t = await adminCall(gw, '/tenants', { method: 'POST', body: { name, policy } });
  if (t.status !== 201) throw new Error(`create tenant: ${t.status} ${await t.text()}`);
  const tenant = (await t.json()) as { id: string };
  const k = await adminCall(gw, `/tenants/${tenant.id}/keys`, { method: 'POST', body: { name: 'k1' } });
  if (k.status !== 201) throw new Error(`create key: ${k.status} ${await k.text()}`);
  const key = (await k.json()) as { id: string; key: string };
  return { tenantId: tenant.id, keyId: key.id, key: key.key };
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  requestId: string | null;
}

/** One chat completion read to its end (a stream too), as a well-behaved client would. */
export async function chat(gw: GatewayProcess, key: string, body: Record<string, unknown>): Promise<Answer> {
  const res = await fetch(`${gw.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, requestId: res.headers.get('x-request-id') };
}

export const ask = (content: string, extra: Record<string, unknown> = {}) => ({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content }],
  max_tokens: 16,
  ...extra,
});

export interface LedgerRow {
  request_id: string;
  status: number;
  outcome: string;
  usage_source: string;
  cost_pico: string;
  provider: string | null;
  output_tokens: number;
  error_code: string | null;
}

export async function ledgerRows(sql: postgres.Sql, tenantId: string): Promise<LedgerRow[]> {
  return sql<LedgerRow[]>`select request_id, status, outcome, usage_source, cost_pico::text as cost_pico, provider, output_tokens, error_code
    from usage_ledger where tenant_id = ${tenantId} order by started_at`;
}

/**
 * Polls until `check` holds. Without `label` only the test's timeout bounds it; with one, it gives up after
 * `giveUpMs` and says what it was waiting for (diagnosis on a slow machine, not an assertion on durations).
 */
export async function until(check: () => boolean | Promise<boolean>, stepMs = 100, label?: string | (() => string), giveUpMs = 100_000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (label && Date.now() - start > giveUpMs) throw new Error(`gave up waiting for ${typeof label === 'function' ? label() : label}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** Resident set size of a process in KiB, from /proc. */
export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

/** The pid of the node process that runs the gateway: the spawned pid itself (node --import tsx), or its child when a wrapper (the tsx CLI) started it. */
export function serverPid(gw: GatewayProcess): number {
  const parent = gw.child.pid!;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 4 of /proc/PID/stat is the parent pid; the command name (field 2) is parenthesised and may hold spaces.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent) return Number(entry);
    } catch {
      // the process ended while we looked
    }
  }
  return parent;
}

/** Value of one unlabelled metric sample in a Prometheus exposition. */
export async function metricValue(gw: GatewayProcess, name: string): Promise<number | null> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

/** spawnGateway already runs `node build/main.js` (signals reach the gateway itself, as with `npm start`). */
export const spawnDirect = spawnGateway;
