// The in-process response cache: the shared contract, and its byte bound (least recently used entries go first).
import { describe, expect, it } from 'vitest';
import { createMemoryCache } from '../../src/cache/memory-cache.js';
import { serializeEntry } from '../../src/cache/interface.js';
import { entry, responseCacheContract } from './response-cache.contract.js';

let now = 0;
responseCacheContract('memory', {
  make: () => ({ cache: createMemoryCache({ maxBytes: 1 << 20, now: () => now }), prefix: 'm' }),
  advance: async (ms) => {
    now += ms;
  },
});

describe('memory cache bound', () => {
  const size = Buffer.byteLength(serializeEntry(entry('x'.repeat(100))));

  it('evicts the least recently used entries to stay under maxBytes', async () => {
    const cache = createMemoryCache({ maxBytes: size * 3, now: () => 0 });
    for (const k of ['a', 'b', 'c']) await cache.set(k, entry('x'.repeat(100)), 60);
    expect(cache.bytes).toBe(size * 3);
    await cache.get('a'); // a is now the most recently used
    await cache.set('d', entry('x'.repeat(100)), 60);
    expect(cache.size).toBe(3);
    expect(cache.bytes).toBeLessThanOrEqual(size * 3);
    expect(await cache.get('b')).toBeNull();
    expect(await cache.get('a')).not.toBeNull();
    expect(await cache.get('d')).not.toBeNull();
  });

  it('does not keep an entry larger than the whole cache', async () => {
    const cache = createMemoryCache({ maxBytes: size - 1, now: () => 0 });
    await cache.set('a', entry('x'.repeat(100)), 60);
    expect(cache.size).toBe(0);
    expect(cache.bytes).toBe(0);
  });
});
