// Budget periods, the downgrade threshold and the exhausted-budget message, from a tenant policy.
import { describe, expect, it } from 'vitest';
import { budgetExhaustedMessage, budgetSpecsFor, downgradeStrategy, formatUsd, periodBounds } from '../../src/limits/budgets.js';
import type { BudgetState } from '../../src/limits/interface.js';
import { MAX_BUDGET_PICO } from '../../src/limits/shared.js';
import { usdToPico } from '../../src/metering/money.js';
import { policySchema } from '../../src/routing/policy.js';

const policy = policySchema.parse({
  budgets: { daily: { limit_usd: '20' }, monthly: { limit_usd: '500.00', mode: 'hard' }, downgrade_at: 0.8 },
});

function state(period: 'day' | 'month', limitUsd: string, spentUsd: string): BudgetState {
  return { period, limitPico: usdToPico(limitUsd), spentPico: usdToPico(spentUsd), mode: 'hard', resetsAt: new Date(0) };
}

describe('budgetSpecsFor', () => {
  it('gives the UTC day and month holding the instant, with exact limits', () => {
    const now = new Date('2031-02-28T23:59:59.999Z');
    const specs = budgetSpecsFor(policy, now);
    expect(specs.map((s) => [s.period, s.limitPico, s.mode, s.periodStart.toISOString(), s.periodEnd.toISOString()])).toEqual([
      ['day', 20n * 10n ** 12n, 'hard', '2031-02-28T00:00:00.000Z', '2031-03-01T00:00:00.000Z'],
      ['month', 500n * 10n ** 12n, 'hard', '2031-02-01T00:00:00.000Z', '2031-03-01T00:00:00.000Z'],
    ]);
  });

  it('handles the year boundary and leap days', () => {
    expect(periodBounds('month', new Date('2031-12-31T12:00:00Z')).end.toISOString()).toBe('2032-01-01T00:00:00.000Z');
    expect(periodBounds('day', new Date('2032-02-29T05:00:00Z')).end.toISOString()).toBe('2032-03-01T00:00:00.000Z');
  });

  it('builds the specs once per policy and day: the same until midnight, new ones after it and for a changed policy', () => {
    const p = policySchema.parse({ budgets: { daily: { limit_usd: '20' }, monthly: { limit_usd: '500' } } });
    const morning = budgetSpecsFor(p, new Date('2031-01-31T00:00:00.000Z'));
    expect(budgetSpecsFor(p, new Date('2031-01-31T23:59:59.999Z'))).toBe(morning);
    expect(Object.isFrozen(morning) && Object.isFrozen(morning[0])).toBe(true);
    // Back in time (a clock stepped back) and across midnight into a new month: the periods that hold then.
    const before = budgetSpecsFor(p, new Date('2031-01-30T23:59:59.999Z'));
    expect(before[0].periodStart.toISOString()).toBe('2031-01-30T00:00:00.000Z');
    const next = budgetSpecsFor(p, new Date('2031-02-01T00:00:00.000Z'));
    expect(next.map((s) => s.periodStart.toISOString())).toEqual(['2031-02-01T00:00:00.000Z', '2031-02-01T00:00:00.000Z']);
    // A tenant's changed policy is a new object: its own specs at once.
    const changed = policySchema.parse({ budgets: { daily: { limit_usd: '30' }, monthly: { limit_usd: '500' } } });
    expect(budgetSpecsFor(changed, new Date('2031-02-01T00:00:01.000Z'))[0].limitPico).toBe(30n * 10n ** 12n);
  });

  it('has no budgets for a policy without any, and caps a limit above the counter bound', () => {
    expect(budgetSpecsFor(policySchema.parse({}), new Date())).toEqual([]);
    const huge = policySchema.parse({ budgets: { monthly: { limit_usd: '99999999' } } });
    expect(budgetSpecsFor(huge, new Date('2031-01-01T00:00:00Z'))[0].limitPico).toBe(MAX_BUDGET_PICO);
  });
});

describe('downgradeStrategy', () => {
  it('switches to the downgrade strategy once any budget reaches the threshold, exactly', () => {
    expect(downgradeStrategy(policy, [state('day', '20', '15.999999999999'), state('month', '500', '1')])).toBeNull();
    expect(downgradeStrategy(policy, [state('day', '20', '16'), state('month', '500', '1')])).toBe('cheapest');
    expect(downgradeStrategy(policy, [state('day', '20', '0'), state('month', '500', '400')])).toBe('cheapest');
  });

  it('never downgrades without a threshold', () => {
    const noThreshold = policySchema.parse({ budgets: { monthly: { limit_usd: '1' } } });
    expect(downgradeStrategy(noThreshold, [state('month', '1', '1')])).toBeNull();
  });
});

describe('budgetExhaustedMessage', () => {
  it('names the budget, its amount and when it resets', () => {
    const s = { period: 'month' as const, limitPico: usdToPico('500'), resetsAt: new Date('2026-12-01T00:00:00Z') };
    expect(budgetExhaustedMessage(s)).toBe('Monthly budget of $500.00 exhausted; resets at 2026-12-01T00:00:00Z');
    const d = { period: 'day' as const, limitPico: usdToPico('0.005'), resetsAt: new Date('2031-01-02T00:00:00Z') };
    expect(budgetExhaustedMessage(d)).toBe('Daily budget of $0.005 exhausted; resets at 2031-01-02T00:00:00Z');
  });

  it('formats USD exactly', () => {
    expect(formatUsd(usdToPico('1234.5'))).toBe('$1234.50');
    expect(formatUsd(1n)).toBe('$0.000000000001');
  });
});
