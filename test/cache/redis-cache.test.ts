// The Redis response cache on the real Redis: the shared contract, a value that is not an entry, and a dead Redis.
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisCache, CacheUnavailableError } from '../../src/cache/redis-cache.js';
import { REDIS_URL, uniqueId } from '../support/services.js';
import { entry, responseCacheContract } from './response-cache.contract.js';

const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
const prefix = `tg:rc:{t:${uniqueId('cachetest')}}`;
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

responseCacheContract('redis', {
  make: () => ({ cache: createRedisCache({ redis }), prefix: `${prefix}:${uniqueId()}` }),
  advance: (ms) => new Promise((r) => setTimeout(r, ms)),
});

describe('redis cache failures', () => {
  it('treats a foreign value under the key as a miss', async () => {
    const cache = createRedisCache({ redis });
    await redis.set(`${prefix}:junk`, '{"not":"an entry"}', 'EX', 60);
    await redis.set(`${prefix}:broken`, '{', 'EX', 60);
    expect(await cache.get(`${prefix}:junk`)).toBeNull();
    expect(await cache.get(`${prefix}:broken`)).toBeNull();
  });

  it('rejects when Redis is unreachable, then cools down without asking it', async () => {
    const dead = new Redis('redis://127.0.0.1:1', { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
    dead.on('error', () => {});
    let calls = 0;
    const counted = new Proxy(dead, {
      get(target, p, recv) {
        if (p === 'get') calls++;
        return Reflect.get(target, p, recv);
      },
    });
    let t = 0;
    const cache = createRedisCache({ redis: counted, timeoutMs: 200, cooldownMs: 1_000, now: () => t });
    await expect(cache.get(`${prefix}:x`)).rejects.toThrow();
    await expect(cache.set(`${prefix}:x`, entry('x'), 60)).rejects.toBeInstanceOf(CacheUnavailableError);
    expect(calls).toBe(1);
    t = 1_500;
    await expect(cache.get(`${prefix}:x`)).rejects.toThrow();
    expect(calls).toBe(2);
    dead.disconnect();
  });
});
