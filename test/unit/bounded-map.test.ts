// remembered(): one value per key, made once, and a map that never holds more than its bound.
import { describe, expect, it } from 'vitest';
import { remembered } from '../../src/bounded-map.js';

describe('remembered', () => {
  it('makes a value once per key and keeps it', () => {
    const m = new Map<string, { n: number }>();
    let made = 0;
    const make = (k: string) => ({ n: (made++, k.length) });
    const a = remembered(m, 'abc', 10, make);
    expect(a).toEqual({ n: 3 });
    expect(remembered(m, 'abc', 10, make)).toBe(a);
    expect(remembered(m, 'de', 10, make)).toEqual({ n: 2 });
    expect(made).toBe(2);
  });

  it('empties a full map before keeping a new key, never growing past the bound', () => {
    const m = new Map<number, number>();
    for (let i = 0; i < 25; i++) {
      remembered(m, i, 10, (k) => k * 2);
      expect(m.size).toBeLessThanOrEqual(10);
    }
    // 0..9 filled it, 10 emptied it and 10..19 refilled it, 20 emptied it again: 20..24 remain.
    expect([...m.keys()]).toEqual([20, 21, 22, 23, 24]);
    // A hit on a full map keeps everything.
    const full = new Map(Array.from({ length: 10 }, (_, i) => [i, i] as const));
    expect(remembered(full, 3, 10, () => -1)).toBe(3);
    expect(full.size).toBe(10);
  });
});
