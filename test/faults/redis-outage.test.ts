// Redis killed under load and restarted on the same port (a throwaway redis-server): a fail_open gateway keeps serving
// and says so on /metrics, a fail_closed one answers 503; both recover without a restart, and the ledger holds every
// served request once.
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayProcess } from '../support/process.js';
import { freePort, startRedisServer, stopRedisServer } from '../limits/support/redis.js';
import { ask, chat, createTenant, ledgerRows, metricValue, startStack, until, type Answer, type Stack, type TenantKey } from './support.js';

let stack: Stack;
let redis: ChildProcess | null = null;
let port = 0;
let open: GatewayProcess;
let closed: GatewayProcess;
let tOpen: TenantKey;
let tClosed: TenantKey;

// Limits and a budget so that admission really goes through the Redis script (the budget is far from reached).
const policy = { baseline_model: 'gpt-4o-mini', rate_limits: { tenant: { rpm: 100_000 } }, budgets: { daily: { limit_usd: '1000' } } };

beforeAll(async () => {
  port = await freePort();
  redis = await startRedisServer(port);
  stack = await startStack();
  const redisUrl = `redis://127.0.0.1:${port}`;
  [open, closed] = await Promise.all([
    stack.gateway({ redisUrl, config: { limits: { on_redis_failure: 'fail_open' } } }),
    stack.gateway({ redisUrl, config: { limits: { on_redis_failure: 'fail_closed' } } }),
  ]);
  tOpen = await createTenant(open, 'redis-open', policy);
  tClosed = await createTenant(open, 'redis-closed', policy);
});
afterAll(async () => {
  await stopRedisServer(redis);
  await stack?.close();
});

/** `n` requests, `width` at a time, alternating stream and non-stream. */
async function burst(gw: GatewayProcess, key: string, n: number, width = 8): Promise<Answer[]> {
  const out: Answer[] = [];
  for (let i = 0; i < n; i += width) {
    const batch = Array.from({ length: Math.min(width, n - i) }, (_, j) =>
      chat(gw, key, ask(`burst ${i + j}`, (i + j) % 2 ? { stream: true, stream_options: { include_usage: true } } : {})),
    );
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

const statuses = (as: Answer[]) => [...new Set(as.map((a) => a.status))].sort();

describe('Redis killed and restarted under load', () => {
  it('fail_open serves, fail_closed answers 503, both recover by themselves', { timeout: 90_000 }, async () => {
    const sent: Answer[] = [];
    const sentClosed: Answer[] = [];
    sent.push(...(await burst(open, tOpen.key, 16)));
    sentClosed.push(...(await burst(closed, tClosed.key, 16)));
    expect(statuses([...sent, ...sentClosed])).toEqual([200]);
    expect(await metricValue(open, 'tollgate_redis_up')).toBe(1);
    // The first batch waited for Redis (no reading yet); the next went ahead of its answer (limits far off).
    const admissions = (gw: GatewayProcess, path: string) => metricValue(gw, `tollgate_limiter_admissions_total\\{path="${path}"\\}`);
    expect(await admissions(open, 'waited')).toBeGreaterThan(0);
    expect(await admissions(open, 'ahead')).toBeGreaterThan(0);

    // Killed while requests are in flight on both gateways.
    const inflight = [burst(open, tOpen.key, 24), burst(closed, tClosed.key, 24)];
    await stopRedisServer(redis);
    redis = null;
    const [o1, c1] = await Promise.all(inflight);
    sent.push(...o1);
    sentClosed.push(...c1);
    expect(statuses(o1)).toEqual([200]);
    // A request admitted before the kill may still complete; none fails in any other way than 503.
    expect(statuses(c1).every((s) => s === 200 || s === 503)).toBe(true);

    const down = await burst(open, tOpen.key, 32);
    sent.push(...down);
    expect(statuses(down)).toEqual([200]);
    await until(async () => (await metricValue(open, 'tollgate_redis_up')) === 0);
    expect(await admissions(open, 'in_process')).toBeGreaterThan(0);

    const refused = await burst(closed, tClosed.key, 16);
    sentClosed.push(...refused);
    expect(statuses(refused)).toEqual([503]);
    const err = JSON.parse(refused[0].text) as { error: { type: string; code: string } };
    expect(err.error).toMatchObject({ type: 'api_error', code: 'service_unavailable' });

    redis = await startRedisServer(port);
    await until(async () => {
      const probe = await chat(closed, tClosed.key, ask('probe'));
      sentClosed.push(probe);
      return probe.status === 200;
    }, 200);
    await until(async () => (await metricValue(open, 'tollgate_redis_up')) === 1, 200);
    await until(async () => (await metricValue(closed, 'tollgate_redis_up')) === 1, 200);
    const back = [...(await burst(open, tOpen.key, 16)), ...(await burst(closed, tClosed.key, 16))];
    expect(statuses(back)).toEqual([200]);

    // Every served request of the fail_open tenant is in the ledger once.
    const served = [...sent, ...back.slice(0, 16)].filter((a) => a.status === 200);
    await until(async () => (await ledgerRows(stack.sql, tOpen.tenantId)).length >= served.length);
    const rows = await ledgerRows(stack.sql, tOpen.tenantId);
    expect(rows.length).toBe(served.length);
    expect(new Set(rows.map((r) => r.request_id))).toEqual(new Set(served.map((a) => a.requestId)));
    // fail_closed: what it served (before, during the kill, after) is metered once; a 503 bought nothing upstream.
    const servedClosed = [...sentClosed, ...back.slice(16)].filter((a) => a.status === 200);
    await until(async () => (await ledgerRows(stack.sql, tClosed.tenantId)).filter((r) => r.status === 200).length >= servedClosed.length);
    const closedRows = (await ledgerRows(stack.sql, tClosed.tenantId)).filter((r) => r.status === 200);
    expect(new Set(closedRows.map((r) => r.request_id))).toEqual(new Set(servedClosed.map((a) => a.requestId)));
    expect(closedRows.length).toBe(servedClosed.length);
    console.info(`redis outage: fail_open served ${served.length} (${down.length} with Redis down), metered ${rows.length}; fail_closed refused ${refused.length}`);
  });
});
