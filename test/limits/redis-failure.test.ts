// Redis lost and back at run time (a throwaway redis-server killed mid-run), and the round trips of one admission.
import type { ChildProcess } from 'node:child_process';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isGatewayError } from '../../src/errors.js';
import type { Limiter } from '../../src/limits/interface.js';
import { createLimiterRedis, createRedisLimiter, type LimiterStatus } from '../../src/limits/redis-limiter.js';
import { uniqueId } from '../support/services.js';
import { commandCalls, freePort, startRedisServer, stopRedisServer, until } from './support/redis.js';
import { daySpec, request, settlement, T0 } from './support/requests.js';

let port = 0;
let server: ChildProcess | null = null;
const clients: Redis[] = [];

beforeAll(async () => {
  port = await freePort();
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await stopRedisServer(server);
  server = null;
});

afterAll(async () => {
  await stopRedisServer(server);
});

async function connect(): Promise<Redis> {
  // A shorter command timeout than in production keeps the stalled-Redis test short.
  const redis = createLimiterRedis(`redis://127.0.0.1:${port}`, { commandTimeout: 300 });
  clients.push(redis);
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
  return redis;
}

function make(redis: Redis, onFailure: 'fail_open' | 'fail_closed', probeIntervalMs = 0) {
  const statuses: LimiterStatus[] = [];
  const warnings: string[] = [];
  const logger = { warn: (_: object, msg: string) => warnings.push(msg), info: () => {} };
  const limiter = createRedisLimiter({
    redis,
    seeder: async () => 0n,
    onFailure,
    reservationTtlS: 900,
    logger,
    onStatus: (s) => statuses.push(s),
    now: () => T0,
    probeIntervalMs,
  });
  return { limiter, statuses, warnings };
}

const budgets = [daySpec(T0, 1000n)];

async function expect503(limiter: Limiter, tenantId: string): Promise<void> {
  const err = await limiter.admit(request({ tenantId, budgets, reservePico: 100n })).then(
    () => null,
    (e: unknown) => e,
  );
  expect(isGatewayError(err) ? [err.status, err.code] : err).toEqual([503, 'service_unavailable']);
}

describe('Redis lost at run time', () => {
  it('fail_open: keeps admitting in-process from the last known spend, logs once, and switches back when Redis returns', async () => {
    server = await startRedisServer(port);
    const { limiter, statuses, warnings } = make(await connect(), 'fail_open');
    const tenantId = uniqueId('lf');
    const before = [];
    for (let i = 0; i < 3; i++) before.push(request({ tenantId, budgets, reservePico: 100n }));
    for (const r of before) expect((await limiter.admit(r)).ok).toBe(true);
    await limiter.settle(settlement(before[0], 40n)); // spend known to Redis: 40 + 2 × 100 open

    await stopRedisServer(server);
    server = null;
    const during = [];
    for (let i = 0; i < 9; i++) during.push(await limiter.admit(request({ tenantId, budgets, reservePico: 100n })));
    // 1000 − 240 leaves room for 7 more reservations of 100, however the limiter runs.
    expect(during.map((r) => r.ok)).toEqual([true, true, true, true, true, true, true, false, false]);
    expect(during.every((r) => !r.ok || r.degraded)).toBe(true);
    expect(limiter.status).toBe('degraded');
    expect(warnings).toHaveLength(1);
    await limiter.settle(settlement(before[1], 10n)); // queued for Redis

    server = await startRedisServer(port);
    await until(() => limiter.status === 'up');
    expect(statuses).toEqual(['degraded', 'up']);
    const after = await limiter.admit(request({ tenantId, budgets, reservePico: 100n }));
    expect(after.ok && after.degraded).toBe(false);
  });

  /**
   * fail_open on a Redis that is about to stall: two requests of a fresh tenant admitted (200 reserved), and a second
   * client to pause Redis with (every command held for 1.5 s: the limiter's, at 300 ms, time out) and to wait with.
   */
  async function stallable() {
    server = await startRedisServer(port);
    const { limiter } = make(await connect(), 'fail_open');
    const tenantId = uniqueId('lf');
    const r = Array.from({ length: 4 }, () => request({ tenantId, budgets, reservePico: 100n }));
    expect((await limiter.admit(r[0])).ok).toBe(true);
    expect((await limiter.admit(r[1])).ok).toBe(true);
    const other = createLimiterRedis(`redis://127.0.0.1:${port}`, { commandTimeout: 60_000 });
    clients.push(other);
    await new Promise((resolve) => other.once('ready', resolve));
    return {
      limiter,
      r,
      pause: () => other.client('PAUSE', 1500, 'ALL'),
      pauseOver: () => other.ping(), // answered once the pause is over
      /** Waits until Redis holds `pico` spent for the tenant (the replay runs in the background). */
      spentReaches: async (pico: bigint) => {
        await until(async () => (await limiter.budgetState(tenantId, budgets))[0].spentPico === pico);
        expect((await limiter.budgetState(tenantId, budgets))[0].spentPico).toBe(pico);
      },
    };
  }

  it('fail_open on a stalled Redis (timeouts): settlements made meanwhile are replayed on Redis when it answers again', async () => {
    const { limiter, r, pause, pauseOver, spentReaches } = await stallable();
    await pause();
    const during = await limiter.admit(r[2]);
    expect(during.ok && during.degraded).toBe(true);
    expect(during.ok && during.budgets[0].spentPico).toBe(300n); // from the last spend Redis reported (200)
    await limiter.settle(settlement(r[0], 40n)); // times out: queued
    await pauseOver();
    const back = await limiter.admit(r[3]);
    expect(back.ok && !back.degraded && limiter.status).toBe('up');
    await limiter.settle(settlement(r[2], 30n)); // admitted in-process: its actual cost is charged on Redis
    // r1 settled at 40 (replayed), r2 and r4 reserved 100 each, r3 charged 30.
    await spentReaches(270n);
  });

  it('fail_open: a settlement riding on an admission that times out is kept for the replay and applied exactly once', async () => {
    const { limiter, r, pause, pauseOver, spentReaches } = await stallable();
    const s1 = limiter.settle(settlement(r[0], 40n)); // deferred: rides inside r3's admission
    await pause();
    const during = await limiter.admit(r[2]); // times out (300 ms): served in-process
    expect(during.ok && during.degraded).toBe(true);
    await s1; // given up on Redis for now: queued for the replay
    await pauseOver(); // the held script (r3 with r1's settlement) has run after all
    const back = await limiter.admit(r[3]);
    expect(back.ok && !back.degraded && limiter.status).toBe('up');
    await limiter.settle(settlement(r[2], 30n));
    // r1 at 40 (by the held script, then replayed: a settled request's tombstone makes the second a no-op), r2 and r4
    // reserved 100 each, r3 at 30.
    await spentReaches(270n);
  });

  it('while Redis is stalled, only a probe now and then waits for it; the other requests go straight to the fallback', async () => {
    server = await startRedisServer(port);
    const redis = await connect();
    const { limiter } = make(redis, 'fail_open', 60_000);
    const tenantId = uniqueId('lf');
    expect((await limiter.admit(request({ tenantId, budgets, reservePico: 100n }))).ok).toBe(true);
    let sent = 0;
    const send = redis.sendCommand.bind(redis);
    redis.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
      sent++;
      return send(...args);
    }) as Redis['sendCommand'];
    const other = createLimiterRedis(`redis://127.0.0.1:${port}`, { commandTimeout: 60_000 });
    clients.push(other);
    await new Promise((resolve) => other.once('ready', resolve));
    await other.client('PAUSE', 1000, 'ALL');
    const first = await limiter.admit(request({ tenantId, budgets, reservePico: 100n }));
    expect(first.ok && first.degraded).toBe(true);
    expect(sent).toBe(1);
    for (let i = 0; i < 3; i++) {
      const r = await limiter.admit(request({ tenantId, budgets, reservePico: 100n }));
      expect(r.ok && r.degraded).toBe(true);
    }
    expect(sent).toBe(1);
    await other.ping();
  });

  it('fail_closed: answers 503 while Redis is away and recovers by itself', async () => {
    server = await startRedisServer(port);
    const { limiter, statuses } = make(await connect(), 'fail_closed');
    const tenantId = uniqueId('lf');
    expect((await limiter.admit(request({ tenantId, budgets, reservePico: 100n }))).ok).toBe(true);
    await stopRedisServer(server);
    server = null;
    await expect503(limiter, tenantId);
    await expect503(limiter, tenantId);
    expect(limiter.status).toBe('down');
    server = await startRedisServer(port);
    await until(() => limiter.status === 'up');
    expect(statuses).toEqual(['down', 'up']);
    expect((await limiter.admit(request({ tenantId, budgets, reservePico: 100n }))).ok).toBe(true);
  });
});

describe('round trips', () => {
  it('one admission is exactly one Redis command in steady state, and survives a SCRIPT FLUSH', async () => {
    server = await startRedisServer(port);
    const redis = await connect();
    const { limiter } = make(redis, 'fail_closed');
    const tenantId = uniqueId('lr');
    const all = { tenant: { rpm: 1000, tpm: 1_000_000 }, key: { rpm: 100 }, modelLimits: { tpm: 100_000 } };
    const both = [daySpec(T0, 10n ** 15n), { ...daySpec(T0, 10n ** 16n), period: 'month' as const }];
    const warm = request({ tenantId, budgets: both, reservePico: 5n, tokens: 10, ...all });
    expect((await limiter.admit(warm)).ok).toBe(true); // seeds the counters (the one case with a second trip)
    // Client side: commands this connection sends. Server side: scripts run (commands inside a script count there too).
    let sent = 0;
    const send = redis.sendCommand.bind(redis);
    redis.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
      sent++;
      return send(...args);
    }) as Redis['sendCommand'];
    const scripts = (s: Map<string, number>) => (s.get('evalsha') ?? 0) + (s.get('eval') ?? 0);
    const stats = await commandCalls(redis);
    sent = 0;
    const n = 25;
    const reqs = Array.from({ length: n }, () => request({ tenantId, budgets: both, reservePico: 5n, tokens: 10, ...all }));
    for (const r of reqs) expect((await limiter.admit(r)).ok).toBe(true);
    expect(sent).toBe(n);
    const afterAdmits = await commandCalls(redis);
    expect(scripts(afterAdmits) - scripts(stats)).toBe(n);
    sent = 0;
    for (const r of reqs) await limiter.settle(settlement(r, 3n));
    expect(sent).toBe(n);
    expect(scripts(await commandCalls(redis)) - scripts(afterAdmits)).toBe(n);

    await redis.script('FLUSH');
    const again = await limiter.admit(request({ tenantId, budgets: both, reservePico: 5n, tokens: 10, ...all }));
    expect(again.ok).toBe(true);
  });
});
