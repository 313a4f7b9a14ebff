import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { perMillionToPicoPerToken, picoToUsd, usdToPico } from '../../src/metering/money.js';
import { costOf } from '../../src/metering/cost.js';

describe('money', () => {
  it('converts prices per 1M tokens to exact pico-USD per token', () => {
    expect(perMillionToPicoPerToken('0.15')).toBe(150_000n);
    expect(perMillionToPicoPerToken('0.003')).toBe(3_000n);
    expect(perMillionToPicoPerToken('10')).toBe(10_000_000n);
    expect(perMillionToPicoPerToken('0.000001')).toBe(1n);
    expect(() => perMillionToPicoPerToken('0.0000001')).toThrow();
    expect(() => perMillionToPicoPerToken('-1')).toThrow();
  });

  it('round-trips USD strings exactly', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 24n }), (pico) => {
        expect(usdToPico(picoToUsd(pico))).toBe(pico);
      }),
    );
    expect(picoToUsd(1n)).toBe('0.000000000001');
    expect(picoToUsd(-1_500_000_000_000n)).toBe('-1.500000000000');
    expect(picoToUsd(12_345_678_900_000n, 2)).toBe('12.34');
  });

  it('costs a request exactly: uncached input, cached input and output (reasoning included)', () => {
    const prices = { input: 150_000n, cachedInput: 75_000n, output: 600_000n, version: 'v', tariff: null };
    // 1000 prompt tokens of which 400 cached, 250 output tokens of which 100 reasoning.
    const c = costOf({ input: 1000, cachedInput: 400, output: 250, reasoning: 100 }, prices);
    expect(c).toBe(600n * 150_000n + 400n * 75_000n + 250n * 600_000n);
    expect(picoToUsd(c)).toBe('0.000270000000');
  });

  it('sums many tiny costs without drift where floats would drift', () => {
    const prices = { input: 1n, cachedInput: 1n, output: 3n, version: 'v', tariff: null };
    let total = 0n;
    let float = 0;
    for (let i = 0; i < 10_000; i++) {
      const c = costOf({ input: 7, cachedInput: 0, output: 3, reasoning: 0 }, prices);
      total += c;
      float += Number(picoToUsd(c));
    }
    expect(total).toBe(160_000n);
    expect(picoToUsd(total)).toBe('0.000000160000');
    expect(float).not.toBe(Number('0.00000016')); // the reason money is never a float
  });
});
