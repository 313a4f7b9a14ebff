// Budgets and RPM under concurrency on the real Redis: one instance, two connections, and two separate processes.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { Limiter } from '../../src/limits/interface.js';
import { createRedisLimiter, limiterRedisOptions } from '../../src/limits/redis-limiter.js';
import { REDIS_URL, uniqueId } from '../support/services.js';
import { type BurstJob, type BurstOutcome, runBurst } from './support/burst.js';
import { deleteKeys } from './support/redis.js';
import { daySpec, T0 } from './support/requests.js';

const keyPrefix = uniqueId('tglc');
const clients: Redis[] = [];
const MAX_COST = 1_234_567_891n; // pico-USD: the most one request may cost
const BUDGET = MAX_COST * 50n;

async function limiterOnNewConnection(): Promise<Limiter> {
  const redis = new Redis(REDIS_URL, limiterRedisOptions);
  clients.push(redis);
  await new Promise((resolve) => redis.once('ready', resolve));
  return createRedisLimiter({ redis, keyPrefix, seeder: async () => 0n, onFailure: 'fail_closed', reservationTtlS: 900 });
}

async function spentOf(limiter: Limiter, tenantId: string): Promise<bigint> {
  return (await limiter.budgetState(tenantId, [daySpec(T0, BUDGET)]))[0].spentPico;
}

const worker = fileURLToPath(new URL('./support/worker.ts', import.meta.url));

/** Starts one worker process per job, releases them together, and returns their outcomes. */
async function runInProcesses(jobs: BurstJob[]): Promise<BurstOutcome[]> {
  const children = jobs.map((job) =>
    spawn(process.execPath, ['--import', 'tsx', worker, JSON.stringify({ ...job, redisUrl: REDIS_URL, keyPrefix })], {
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  const lines = children.map((child) => {
    let buf = '';
    const seen: string[] = [];
    const waiters: Array<() => void> = [];
    child.stdout.on('data', (b: Buffer) => {
      buf += b.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        seen.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
        waiters.splice(0).forEach((w) => w());
      }
    });
    const next = async (n: number): Promise<string> => {
      while (seen.length < n) await new Promise<void>((resolve) => waiters.push(resolve));
      return seen[n - 1];
    };
    return { child, next };
  });
  await Promise.all(lines.map((l) => l.next(1)));
  for (const l of lines) l.child.stdin.end('go\n');
  const outcomes = await Promise.all(lines.map(async (l) => JSON.parse(await l.next(2)) as BurstOutcome));
  await Promise.all(lines.map((l) => new Promise((resolve) => (l.child.exitCode !== null ? resolve(null) : l.child.once('exit', resolve)))));
  return outcomes;
}

afterAll(async () => {
  if (clients[0]) await deleteKeys(clients[0], keyPrefix);
  for (const c of clients) c.disconnect();
});

describe('Redis limiter under concurrency', () => {
  it('200 simultaneous requests against a budget for ~50: never over budget, at least 45 served (one instance)', async () => {
    const limiter = await limiterOnNewConnection();
    const tenantId = uniqueId('lc');
    const out = await runBurst(limiter, { tenantId, label: 'a', count: 200, now: T0, budgetPico: BUDGET.toString(), reservePico: MAX_COST.toString() });
    expect(out.admitted).toBeGreaterThanOrEqual(45);
    expect(out.admitted + (out.refused.budget ?? 0)).toBe(200);
    const spent = await spentOf(limiter, tenantId);
    expect(spent).toBe(BigInt(out.settledPico));
    expect(spent).toBeLessThanOrEqual(BUDGET);
  });

  it('the same with two limiter instances on two connections', async () => {
    const [a, b] = [await limiterOnNewConnection(), await limiterOnNewConnection()];
    const tenantId = uniqueId('lc');
    const job = { tenantId, count: 100, now: T0, budgetPico: BUDGET.toString(), reservePico: MAX_COST.toString() };
    const outs = await Promise.all([runBurst(a, { ...job, label: 'a' }), runBurst(b, { ...job, label: 'b' })]);
    const admitted = outs[0].admitted + outs[1].admitted;
    const settled = BigInt(outs[0].settledPico) + BigInt(outs[1].settledPico);
    expect(admitted).toBeGreaterThanOrEqual(45);
    expect(await spentOf(a, tenantId)).toBe(settled);
    expect(settled).toBeLessThanOrEqual(BUDGET);
  });

  it('the same with two separate processes sharing one Redis', async () => {
    const tenantId = uniqueId('lc');
    const job = { tenantId, count: 100, now: T0, budgetPico: BUDGET.toString(), reservePico: MAX_COST.toString() };
    const outs = await runInProcesses([
      { ...job, label: 'p1' },
      { ...job, label: 'p2' },
    ]);
    const admitted = outs[0].admitted + outs[1].admitted;
    const settled = BigInt(outs[0].settledPico) + BigInt(outs[1].settledPico);
    expect(admitted).toBeGreaterThanOrEqual(45);
    expect(admitted + (outs[0].refused.budget ?? 0) + (outs[1].refused.budget ?? 0)).toBe(200);
    const limiter = await limiterOnNewConnection();
    expect(await spentOf(limiter, tenantId)).toBe(settled);
    expect(settled).toBeLessThanOrEqual(BUDGET);
  });

  it('a tenant limited to N requests per minute gets exactly N through across two processes', async () => {
    const tenantId = uniqueId('lc');
    const rpm = 37;
    const outs = await runInProcesses([
      { tenantId, label: 'p1', count: 30, now: T0, rpm },
      { tenantId, label: 'p2', count: 30, now: T0, rpm },
    ]);
    expect(outs[0].admitted + outs[1].admitted).toBe(rpm);
    expect((outs[0].refused.requests ?? 0) + (outs[1].refused.requests ?? 0)).toBe(60 - rpm);
  });
});
