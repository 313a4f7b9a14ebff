// Budgets from a tenant's policy: the current UTC periods, the downgrade threshold and the message of an exhausted budget.
import { usdToPico } from '../metering/money.js';
import type { Policy, Strategy } from '../routing/policy.js';
import type { BudgetPeriod, BudgetSpec, BudgetState } from './interface.js';
import { MAX_BUDGET_PICO } from './shared.js';

/** Start and end (exclusive) of the UTC day or month holding `now`. */
export function periodBounds(period: BudgetPeriod, now: Date): { start: Date; end: Date } {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  if (period === 'month') return { start: new Date(Date.UTC(y, m, 1)), end: new Date(Date.UTC(y, m + 1, 1)) };
  const d = now.getUTCDate();
  return { start: new Date(Date.UTC(y, m, d)), end: new Date(Date.UTC(y, m, d + 1)) };
}

/**
 * The budget specs of each policy for the day that holds them, built once a day instead of per request (4 Dates, two
 * decimal parses and 5 objects each time). A tenant's policy object is replaced, never changed, when its tenant is; the
 * specs are frozen, since every request of the day shares them.
 */
const specsOfDay = new WeakMap<Policy['budgets'], { from: number; to: number; specs: BudgetSpec[] }>();

/** The tenant's daily and monthly budgets for the periods holding `now` (limits above the counter bound are capped). */
export function budgetSpecsFor(policy: Policy, now: Date): BudgetSpec[] {
  const t = now.getTime();
  const known = specsOfDay.get(policy.budgets);
  if (known && t >= known.from && t < known.to) return known.specs;
  const out: BudgetSpec[] = [];
  const add = (period: BudgetPeriod, cfg: { limit_usd: string; mode: 'hard' | 'soft' } | undefined) => {
    if (!cfg) return;
    const { start, end } = periodBounds(period, now);
    const limit = usdToPico(cfg.limit_usd);
    out.push(Object.freeze({ period, limitPico: limit > MAX_BUDGET_PICO ? MAX_BUDGET_PICO : limit, mode: cfg.mode, periodStart: start, periodEnd: end }));
  };
  add('day', policy.budgets.daily);
  add('month', policy.budgets.monthly);
  // A UTC day lies inside its month: both periods hold for the whole day.
  const day = periodBounds('day', now);
  const specs = Object.freeze(out) as BudgetSpec[];
  specsOfDay.set(policy.budgets, { from: day.start.getTime(), to: day.end.getTime(), specs });
  return specs;
}

/** Parts per million, exact: compares spent/limit with the threshold without floats on money. */
const PPM = 1_000_000n;

/** The cheaper strategy to route with once any budget reached `downgrade_at` of its limit; null while none has. */
export function downgradeStrategy(policy: Policy, states: BudgetState[]): Strategy | null {
  const at = policy.budgets.downgrade_at;
  if (at === undefined) return null;
  const threshold = BigInt(Math.round(at * 1_000_000));
  const reached = states.some((s) => s.limitPico > 0n && s.spentPico * PPM >= s.limitPico * threshold);
  return reached ? policy.budgets.downgrade_strategy : null;
}

/** "$500.00", "$0.005": at least cents, more digits only when the amount has them (exact). */
export function formatUsd(pico: bigint): string {
  const whole = pico / 1_000_000_000_000n;
  const frac = (pico % 1_000_000_000_000n).toString().padStart(12, '0').replace(/0+$/, '').padEnd(2, '0');
  return `$${whole}.${frac}`;
}

export function budgetExhaustedMessage(state: Pick<BudgetState, 'period' | 'limitPico' | 'resetsAt'>): string {
  const name = state.period === 'month' ? 'Monthly' : 'Daily';
  const resets = state.resetsAt.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return `${name} budget of ${formatUsd(state.limitPico)} exhausted; resets at ${resets}`;
}
