// In-process response cache (no REDIS_URL): an LRU bounded by the bytes of its serialised entries, with per-entry TTL.
import { parseEntry, serializeEntry, type ResponseCache } from './interface.js';

export interface MemoryCacheOptions {
  /** Upper bound of the sum of stored values, in UTF-8 bytes. */
  maxBytes: number;
  /** Epoch ms; injectable so that expiry is testable without waiting. */
  now?: () => number;
}

interface Slot {
  // Stored serialised: every hit gets its own copy (the SSE writer mutates chunks), and size is known exactly.
  value: string;
  bytes: number;
  expiresAt: number;
}

export interface MemoryCache extends ResponseCache {
  readonly bytes: number;
  readonly size: number;
}

export function createMemoryCache(options: MemoryCacheOptions): MemoryCache {
  const now = options.now ?? Date.now;
  const slots = new Map<string, Slot>();
  let bytes = 0;

  const drop = (key: string, s: Slot) => {
    slots.delete(key);
    bytes -= s.bytes;
  };

  return {
    kind: 'memory',
    async get(key) {
      const s = slots.get(key);
      if (!s) return null;
      if (s.expiresAt <= now()) {
        drop(key, s);
        return null;
      }
      // Map order is insertion order: re-inserting on use keeps the least recently used first.
      slots.delete(key);
      slots.set(key, s);
      return parseEntry(s.value);
    },
    async set(key, entry, ttlS) {
      const value = serializeEntry(entry);
      const size = Buffer.byteLength(value);
      const old = slots.get(key);
      if (old) drop(key, old);
      if (size > options.maxBytes || ttlS <= 0) return;
      slots.set(key, { value, bytes: size, expiresAt: now() + ttlS * 1000 });
      bytes += size;
      for (const [k, s] of slots) {
        if (bytes <= options.maxBytes) break;
        drop(k, s);
      }
    },
    get bytes() {
      return bytes;
    },
    get size() {
      return slots.size;
    },
  };
}
