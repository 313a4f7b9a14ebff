// Settlement on budget counters that changed under an open reservation (rebuilt lower, or gone), on the real Redis:
// the amount comes back out never below zero and then the actual cost is charged; a counter that is gone stays gone.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantKeys } from '../../src/limits/redis-core.js';
import { createRedisLimiter, limiterRedisOptions } from '../../src/limits/redis-limiter.js';
import { REDIS_URL, uniqueId } from '../support/services.js';
import { deleteKeys } from './support/redis.js';
import { daySpec, monthSpec, request, settlement, T0 } from './support/requests.js';

const keyPrefix = uniqueId('tgls');
const redis = new Redis(REDIS_URL, limiterRedisOptions);
const limiter = createRedisLimiter({ redis, keyPrefix, onFailure: 'fail_closed', reservationTtlS: 900, seeder: async () => 0n });

beforeAll(async () => {
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
});

afterAll(async () => {
  await limiter.close();
  await deleteKeys(redis, keyPrefix);
  redis.disconnect();
});

describe('Redis settlement on changed counters', () => {
  it('takes the reservation back out never below zero, then charges the actual cost', async () => {
    const tenantId = uniqueId('ls');
    const budgets = [daySpec(T0, 10_000n), monthSpec(T0, 10_000n)];
    const req = request({ tenantId, budgets, reservePico: 100n });
    expect((await limiter.admit(req)).ok).toBe(true);
    const k = tenantKeys(keyPrefix, tenantId);
    const [day, month] = budgets.map(k.budget);
    expect([await redis.get(day), await redis.get(month)]).toEqual(['100', '100']);
    await redis.set(day, '30', 'KEEPTTL'); // rebuilt from the ledger meanwhile: the reservation is not in it
    await limiter.settle(settlement(req, 40n));
    expect([await redis.get(day), await redis.get(month)]).toEqual(['40', '40']);
  });

  it('gives back only what the counter still holds when it was rebuilt between zero and the reservation', async () => {
    // 70 − 100 → 0, then + 40: 40 on both. Netted as one step, 70 + (40 − 100) would leave 10.
    const tenantId = uniqueId('ls');
    const budgets = [daySpec(T0, 10_000n), monthSpec(T0, 10_000n)];
    const req = request({ tenantId, budgets, reservePico: 100n });
    expect((await limiter.admit(req)).ok).toBe(true);
    const [day, month] = budgets.map(tenantKeys(keyPrefix, tenantId).budget);
    await redis.set(day, '70', 'KEEPTTL');
    await redis.set(month, '130', 'KEEPTTL'); // above the reservation: 130 − 100 + 40
    await limiter.settle(settlement(req, 40n));
    expect([await redis.get(day), await redis.get(month)]).toEqual(['40', '70']);
  });

  it('leaves a counter that is gone alone and settles on the others, with or without a reservation record', async () => {
    const tenantId = uniqueId('ls');
    const budgets = [daySpec(T0, 10_000n), monthSpec(T0, 10_000n)];
    const k = tenantKeys(keyPrefix, tenantId);
    const [day, month] = budgets.map(k.budget);
    const req = request({ tenantId, budgets, reservePico: 100n });
    expect((await limiter.admit(req)).ok).toBe(true);
    await redis.del(day); // expired or evicted: the next admission seeds it from the ledger
    await limiter.settle(settlement(req, 40n));
    expect(await redis.exists(day)).toBe(0);
    expect(await redis.get(month)).toBe('40');
    // No record (never admitted here): the settlement's own counters are charged, the missing one is not created.
    await limiter.settle(settlement(request({ tenantId, budgets }), 7n));
    expect(await redis.exists(day)).toBe(0);
    expect(await redis.get(month)).toBe('47');
    // All gone: nothing is created.
    await redis.del(month);
    await limiter.settle(settlement(request({ tenantId, budgets }), 7n));
    expect(await redis.exists(day, month)).toBe(0);
  });

  it('takes every reservation back out before charging when two budgets share a counter', async () => {
    const tenantId = uniqueId('ls');
    const budgets = [daySpec(T0, 10_000n), daySpec(T0, 10_000n, 'soft')]; // the same period: one counter, reserved twice
    const req = request({ tenantId, budgets, reservePico: 10n });
    expect((await limiter.admit(req)).ok).toBe(true);
    const day = tenantKeys(keyPrefix, tenantId).budget(budgets[0]);
    expect(await redis.get(day)).toBe('20');
    await redis.set(day, '2', 'KEEPTTL');
    await limiter.settle(settlement(req, 5n));
    // 2 − 10 → 0, 0 − 10 → 0, then + 5 + 5 (charging in between would leave 5).
    expect(await redis.get(day)).toBe('10');
  });
});

describe('Redis budget counters above 2^53 pico-USD (~$9,007)', () => {
  it('gives back and charges reservations above 2^53 exactly', async () => {
    const tenantId = uniqueId('ls');
    const budgets = [daySpec(T0, 8_000_000n * 10n ** 12n), monthSpec(T0, 8_000_000n * 10n ** 12n)];
    const reserve = 2n ** 53n + 3n; // no exact Lua number
    const req = request({ tenantId, budgets, reservePico: reserve });
    expect((await limiter.admit(req)).ok).toBe(true);
    const [day, month] = budgets.map(tenantKeys(keyPrefix, tenantId).budget);
    expect(await redis.get(day)).toBe(reserve.toString());
    await redis.set(month, (reserve - 7n).toString(), 'KEEPTTL'); // rebuilt a little below the reservation
    await limiter.settle(settlement(req, 2n ** 53n + 5n));
    expect([await redis.get(day), await redis.get(month)]).toEqual([(2n ** 53n + 5n).toString(), (2n ** 53n + 5n).toString()]);
  });

  it('reports and compares their exact values across the admissions and settlements of one script call', async () => {
    const tenantId = uniqueId('ls');
    const big = 2n ** 53n + 10n; // above the bound, odd values have no exact Lua number
    const seeded = createRedisLimiter({ redis, keyPrefix, onFailure: 'fail_closed', reservationTtlS: 900, seeder: async () => big });
    const budgets = [daySpec(T0, 8_000_000n * 10n ** 12n)];
    const first = request({ tenantId, budgets, reservePico: 1n });
    const a1 = await seeded.admit(first);
    expect(a1.ok && a1.budgets[0].spentPico).toBe(big + 1n);
    // The settlement rides inside the next admission: one script call writes both, each reply exact.
    void seeded.settle(settlement(first, 4n));
    const second = request({ tenantId, budgets, reservePico: 1n, now: T0 + 1 });
    const a2 = await seeded.admit(second);
    expect(a2.ok && a2.budgets[0].spentPico).toBe(big + 4n + 1n);
    const cacheHit = request({ tenantId, budgets, reservePico: 0n, now: T0 + 2 }); // reserves nothing: reads the value
    const a3 = await seeded.admit(cacheHit);
    expect(a3.ok && a3.budgets[0].spentPico).toBe(big + 5n);
    await seeded.close();
    expect(await redis.get(tenantKeys(keyPrefix, tenantId).budget(budgets[0]))).toBe((big + 5n).toString());
  });
});
