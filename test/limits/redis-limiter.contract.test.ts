// The Limiter contract against the Redis limiter on the real Redis (fail_closed, so that no Redis error is hidden).
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisLimiter, limiterRedisOptions } from '../../src/limits/redis-limiter.js';
import { REDIS_URL, uniqueId } from '../support/services.js';
import { tenantKeys } from '../../src/limits/redis-core.js';
import { daySpec, limiterContract, request, T0 } from './limiter.case.js';
import { deleteKeys } from './support/redis.js';

const keyPrefix = uniqueId('tglt');
const redis = new Redis(REDIS_URL, limiterRedisOptions);

afterAll(async () => {
  await deleteKeys(redis, keyPrefix);
  redis.disconnect();
});

limiterContract('redis', async (o) => {
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
  return createRedisLimiter({ redis, keyPrefix, onFailure: 'fail_closed', ...o });
});

describe('Redis keys', () => {
  it('keep an open reservation as long as the counters holding its amount, and share one hash tag per tenant', async () => {
    if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
    const limiter = createRedisLimiter({ redis, keyPrefix, onFailure: 'fail_closed', reservationTtlS: 60, seeder: async () => 0n });
    const tenantId = uniqueId('lk');
    const budgets = [daySpec(T0, 100n)];
    expect((await limiter.admit(request({ tenantId, budgets, reservePico: 10n, tenant: { rpm: 5, tpm: 100 } }))).ok).toBe(true);
    const k = tenantKeys(keyPrefix, tenantId);
    const counterTtl = await redis.pttl(k.budget(budgets[0]));
    expect(counterTtl).toBeGreaterThan(0);
    expect(await redis.pttl(k.res)).toBeGreaterThanOrEqual(counterTtl - 1000);
    const keys = await redis.keys(`${keyPrefix}:{t:${tenantId}}:*`);
    expect(keys.length).toBeGreaterThanOrEqual(5);
    expect(new Set(keys.map((key) => key.slice(key.indexOf('{'), key.indexOf('}') + 1)))).toEqual(new Set([`{t:${tenantId}}`]));
  });
});
