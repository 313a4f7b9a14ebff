// Baseline cost and savings attribution, checked against prices read from models.yaml by the test itself.
import { describe, expect, it } from 'vitest';
import { baselineCost, savingsOf } from '../../src/routing/baseline.js';
import { policy, rawPrices, realCatalog } from './real-catalog.js';

const tokens = { input: 10_000, cachedInput: 4_000, output: 500, reasoning: 100 };

describe('baselineCost', () => {
  it("prices the tenant's baseline model on the same tokens, without cache discount", () => {
    const at = new Date('2026-12-02T12:00:00Z');
    const p = rawPrices('gpt-4o', at);
    expect(baselineCost(realCatalog, policy({}), tokens, at)).toBe(10_000n * p.input + 500n * p.output);
    const g = rawPrices('gpt-4.1-mini', at);
    expect(baselineCost(realCatalog, policy({ baseline_model: 'gpt-4.1-mini' }), tokens, at)).toBe(10_000n * g.input + 500n * g.output);
  });

  it('is zero when the baseline model is not in the catalog', () => {
    expect(baselineCost(realCatalog, policy({ baseline_model: 'no-such-model' }), tokens, new Date('2026-12-02T12:00:00Z'))).toBe(0n);
  });
});

describe('savingsOf', () => {
  it('attributes the prompt-cache discount and the off-peak discount (weekday off-peak)', () => {
    const at = new Date('2026-12-02T12:00:00Z');
    const off = rawPrices('deepseek-flash', at);
    const peak = rawPrices('deepseek-flash', new Date('2026-12-02T02:00:00Z'));
    expect(off.tariff).toBeNull();
    expect(peak.tariff).toBe('peak');
    const costAt = (p: typeof off) => 6_000n * p.input + 4_000n * p.cached + 500n * p.output;
    const s = savingsOf({ catalog: realCatalog, model: 'deepseek-flash', tokens, at, baselineModel: 'gpt-4o' });
    expect(s.costPico).toBe(costAt(off));
    expect(s.promptCachePico).toBe(4_000n * (off.input - off.cached));
    expect(s.offPeakPico).toBe(costAt(peak) - costAt(off));
    const g = rawPrices('gpt-4o', at);
    expect(s.baselinePico).toBe(10_000n * g.input + 500n * g.output);
  });

  it("takes the caller's prices and cost when given (meter() has looked them up already), and gives the same savings", () => {
    const at = new Date('2026-12-02T12:00:00Z');
    const args = { catalog: realCatalog, model: 'deepseek-flash', tokens, at, baselineModel: 'gpt-4o' };
    const looked = savingsOf(args);
    const prices = realCatalog.priceAt(realCatalog.resolve('deepseek-flash')!, at, tokens.input);
    expect(savingsOf({ ...args, priced: { prices, costPico: looked.costPico } })).toEqual(looked);
    // Used as given, not looked up again: other prices give other figures.
    const other = { ...prices, input: prices.input * 2n };
    const s = savingsOf({ ...args, priced: { prices: other, costPico: 7n } });
    expect(s.costPico).toBe(7n);
    expect(s.promptCachePico).toBe(4_000n * (other.input - other.cachedInput));
  });

  it('has no off-peak saving at peak, or for a model without tariffs', () => {
    const peakAt = new Date('2026-12-02T02:00:00Z');
    expect(savingsOf({ catalog: realCatalog, model: 'deepseek-flash', tokens, at: peakAt, baselineModel: null }).offPeakPico).toBe(0n);
    const s = savingsOf({ catalog: realCatalog, model: 'gpt-4o-mini', tokens, at: peakAt, baselineModel: null });
    expect(s.offPeakPico).toBe(0n);
    expect(s.baselinePico).toBe(0n);
    const p = rawPrices('gpt-4o-mini', peakAt);
    expect(s.promptCachePico).toBe(4_000n * (p.input - p.cached));
  });
});
