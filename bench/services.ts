// Benchmark backing services: a private redis-server (clean INFO commandstats), a private Postgres database
// (pg_stat_database of that database only), and a tenant with every limit configured, made through the admin API.
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { createTestDatabase, DATABASE_URL } from '../test/support/services.js';
import { freePort, spawnServer, type Spawned } from './procs.js';

export async function startRedis(logDir: string, cpus: string | undefined): Promise<{ url: string; server: Spawned }> {
  const port = await freePort();
  const server = await spawnServer({
    name: 'redis',
    cmd: 'redis-server',
    args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', logDir],
    cpus,
    logDir,
    port,
    timeoutMs: 10_000,
  });
  return { url: `redis://127.0.0.1:${port}`, server };
}

export interface RedisCounts {
  /** Commands sent by clients (each one a round trip, or part of a pipeline), by name. */
  topLevel: Map<string, number>;
  /** Commands run inside Lua scripts, by name (no round trip of their own). */
  inLua: Map<string, number>;
}

/**
 * Socket reads Redis has processed (INFO stats total_reads_processed, Redis 6.2+): one per round trip from a client,
 * however many pipelined commands it carried. The bench's Redis serves Tollgate alone.
 */
export async function redisReads(url: string): Promise<number> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    const m = /total_reads_processed:(\d+)/.exec(await r.info('stats'));
    if (!m) throw new Error('this Redis does not report total_reads_processed');
    return Number(m[1]);
  } finally {
    r.disconnect();
  }
}

/** Watches every command through MONITOR; lines marked `[db lua]` ran inside a script. Stop to read the counts. */
export async function monitorRedis(url: string): Promise<{ stop(): RedisCounts }> {
  const u = new URL(url);
  const sock = connect(Number(u.port || 6379), u.hostname);
  await new Promise<void>((resolve, reject) => {
    sock.once('connect', resolve);
    sock.once('error', reject);
  });
  const counts: RedisCounts = { topLevel: new Map(), inLua: new Map() };
  let buf = '';
  let started = false;
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\r\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (!started) {
        started = line === '+OK';
        continue;
      }
      const m = /^\+[\d.]+ \[\d+ ([^\]]+)\] "([^"]+)"/.exec(line);
      if (!m) continue;
      const map = m[1] === 'lua' ? counts.inLua : counts.topLevel;
      const cmd = m[2].toLowerCase();
      map.set(cmd, (map.get(cmd) ?? 0) + 1);
    }
  });
  sock.write('MONITOR\r\n');
  await new Promise<void>((r) => setTimeout(r, 100));
  return {
    stop() {
      sock.destroy();
      return counts;
    },
  };
}

export interface PrivateDb {
  url: string;
  name: string;
  drop(): Promise<void>;
}

export async function createBenchDatabase(): Promise<PrivateDb> {
  const db = await createTestDatabase();
  return { url: db.url, name: new URL(db.url).pathname.slice(1), drop: db.drop };
}

/** Committed transactions of one database so far (each autocommit statement is one); read from the server's admin db. */
export async function pgCommits(dbName: string): Promise<number> {
  const sql = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ n: string }[]>`select xact_commit::text as n from pg_stat_database where datname = ${dbName}`;
    return rows.length ? Number(rows[0].n) : Number.NaN;
  } finally {
    await sql.end();
  }
}

/** Makes the bench tenant (route alias `bench` to gpt-4o-mini on OpenAI, high rate limits, a high hard budget) and its key. */
export async function seedTenant(origin: string, adminToken: string): Promise<string> {
  const auth = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
  const policy = {
    routes: { bench: { strategy: 'cheapest', providers: ['openai'], models: ['gpt-4o-mini'] } },
    rate_limits: { tenant: { rpm: 50_000_000, tpm: 2_000_000_000 }, key: { rpm: 50_000_000 } },
    budgets: { daily: { limit_usd: '1000000', mode: 'hard' }, monthly: { limit_usd: '10000000', mode: 'hard' } },
  };
  const t = await fetch(`${origin}/admin/tenants`, { method: 'POST', headers: auth, body: JSON.stringify({ name: `bench-${Date.now()}`, policy }) });
  if (t.status !== 201) throw new Error(`creating the bench tenant: ${t.status} ${await t.text()}`);
  const { id } = (await t.json()) as { id: string };
  const k = await fetch(`${origin}/admin/tenants/${id}/keys`, { method: 'POST', headers: auth, body: JSON.stringify({ name: 'bench' }) });
  if (k.status !== 201) throw new Error(`creating the bench key: ${k.status} ${await k.text()}`);
  return ((await k.json()) as { key: string }).key;
}
