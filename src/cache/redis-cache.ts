// Response cache in Redis (shared by every gateway instance): GET / SET EX of the serialised entry, fast to give up.
import type { Redis } from 'ioredis';
import { parseEntry, serializeEntry, type ResponseCache } from './interface.js';

export interface RedisCacheOptions {
  redis: Redis;
  /** A lookup slower than this counts as a failure (a miss for the caller): the cache must never hold a request up. */
  timeoutMs?: number;
  /** After a failure, calls fail at once for this long instead of each waiting for a sick Redis. */
  cooldownMs?: number;
  now?: () => number;
}

export class CacheUnavailableError extends Error {}

export function createRedisCache(options: RedisCacheOptions): ResponseCache {
  const { redis } = options;
  const timeoutMs = options.timeoutMs ?? 250;
  const cooldownMs = options.cooldownMs ?? 1_000;
  const now = options.now ?? Date.now;
  let downUntil = 0;

  async function guarded<T>(op: () => Promise<T>): Promise<T> {
    if (now() < downUntil) throw new CacheUnavailableError('response cache cooling down after a Redis failure');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CacheUnavailableError(`response cache: Redis did not answer in ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([op(), timeout]);
    } catch (e) {
      downUntil = now() + cooldownMs;
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    kind: 'redis',
    async get(key) {
      const raw = await guarded(() => redis.get(key));
      return raw === null ? null : parseEntry(raw);
    },
    async set(key, entry, ttlS) {
      if (ttlS <= 0) return;
      await guarded(() => redis.set(key, serializeEntry(entry), 'EX', Math.ceil(ttlS)));
    },
  };
}
