// The Limiter contract against the Redis limiter on the real Redis (fail_closed, so that no Redis error is hidden).
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { createRedisLimiter, limiterRedisOptions } from '../../src/limits/redis-limiter.js';
import { REDIS_URL, uniqueId } from '../support/services.js';
import { limiterContract } from './limiter.case.js';
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
