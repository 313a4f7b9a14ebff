// Concurrent streams per tenant (src/limits/streams.ts): slots are per tenant, bounded, and given back exactly once.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createStreamLimiter } from '../../src/limits/streams.js';

describe('createStreamLimiter', () => {
  it('refuses the stream over the max and accepts again after a release', () => {
    const l = createStreamLimiter();
    expect(l.acquire('a', 2)).toBe(true);
    expect(l.acquire('a', 2)).toBe(true);
    expect(l.acquire('a', 2)).toBe(false);
    expect(l.active('a')).toBe(2);
    l.release('a');
    expect(l.acquire('a', 2)).toBe(true);
  });

  it('counts tenants apart', () => {
    const l = createStreamLimiter();
    expect(l.acquire('a', 1)).toBe(true);
    expect(l.acquire('b', 1)).toBe(true);
    expect(l.acquire('a', 1)).toBe(false);
  });

  it('a stray release never hands out an extra slot', () => {
    const l = createStreamLimiter();
    l.release('a');
    expect(l.active('a')).toBe(0);
    expect(l.acquire('a', 1)).toBe(true);
    expect(l.acquire('a', 1)).toBe(false);
  });

  it('matches a reference count on random acquire/release sequences', () => {
    const op = fc.record({ tenant: fc.constantFrom('a', 'b', 'c'), acquire: fc.boolean(), max: fc.integer({ min: 1, max: 4 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const l = createStreamLimiter();
        const ref = new Map<string, number>();
        for (const o of ops) {
          const n = ref.get(o.tenant) ?? 0;
          if (o.acquire) {
            const ok = l.acquire(o.tenant, o.max);
            expect(ok).toBe(n < o.max);
            if (ok) ref.set(o.tenant, n + 1);
          } else if (n > 0) {
            l.release(o.tenant);
            ref.set(o.tenant, n - 1);
          }
          expect(l.active(o.tenant)).toBe(ref.get(o.tenant) ?? 0);
        }
      }),
      { numRuns: 200 },
    );
  });
});
