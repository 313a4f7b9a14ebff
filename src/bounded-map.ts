// The gateway's small caches (key strings, parsed upstream URLs, per-tenant tallies and ids) are keyed by tenant or
// URL; one helper keeps each bounded, so that a flood of ids cannot grow any of them for ever.

/**
 * `m`'s value for `key`, made by `make` and kept on a miss. A map already holding `max` entries is emptied first: a
 * bound rather than an LRU, for entries that are cheap to make again and a working set far below `max`.
 */
export function remembered<K, V>(m: Map<K, V>, key: K, max: number, make: (key: K) => V): V {
  let v = m.get(key);
  if (v === undefined) {
    if (m.size >= max) m.clear();
    v = make(key);
    m.set(key, v);
  }
  return v;
}
