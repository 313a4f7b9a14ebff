// Keeps the budget gauges true at scrape time: each tenant's current day/month budget as the limiter sees it.
import { budgetSpecsFor } from '../limits/budgets.js';
import type { BudgetPeriod, Limiter } from '../limits/interface.js';
import type { Tenant } from '../store/interface.js';
import type { Metrics } from './metrics.js';

export interface BudgetCollectorOptions {
  metrics: Pick<Metrics, 'setBudget' | 'clearBudget' | 'addCollector'>;
  /** Usually `() => store.listTenants()`. */
  listTenants: () => Promise<readonly Tenant[]>;
  limiter: Pick<Limiter, 'budgetState'>;
  clock: () => Date;
  /** Scrapes closer together than this reuse the last values (each refresh costs one limiter call per budgeted tenant). */
  minIntervalMs?: number;
  /** Limiter calls in flight at once. */
  concurrency?: number;
  onError?: (err: unknown) => void;
}

/**
 * Registers a scrape-time collector. Pulling at scrape time (rather than setting gauges on each admission) keeps a
 * tenant's gauges right after its period resets or its policy changes, even with no traffic.
 */
export function installBudgetCollector(options: BudgetCollectorOptions): { refresh(): Promise<void> } {
  const minInterval = options.minIntervalMs ?? 10_000;
  const concurrency = options.concurrency ?? 16;
  let last = Number.NEGATIVE_INFINITY;
  let shown = new Set<string>();
  let running: Promise<void> | null = null;

  async function refresh(): Promise<void> {
    const now = options.clock();
    const tenants = (await options.listTenants()).filter((t) => !t.disabled);
    const work = tenants.map((t) => ({ t, specs: budgetSpecsFor(t.policy, now) })).filter((w) => w.specs.length > 0);
    const next = new Set<string>();
    for (let i = 0; i < work.length; i += concurrency) {
      await Promise.all(
        work.slice(i, i + concurrency).map(async ({ t, specs }) => {
          const states = await options.limiter.budgetState(t.id, specs);
          for (const s of states) {
            options.metrics.setBudget(t.name, s.period, s.limitPico, s.spentPico);
            next.add(`${s.period}\u0000${t.name}`);
          }
        }),
      );
    }
    for (const key of shown) {
      if (next.has(key)) continue;
      const [period, name] = key.split('\u0000') as [BudgetPeriod, string];
      options.metrics.clearBudget(name, period);
    }
    shown = next;
  }

  const guarded = async (): Promise<void> => {
    const t = options.clock().getTime();
    if (t - last < minInterval) return;
    // Concurrent scrapes share one refresh instead of stacking limiter calls.
    running ??= refresh()
      .then(() => {
        last = t;
      })
      .catch((e: unknown) => options.onError?.(e))
      .finally(() => {
        running = null;
      });
    await running;
  };
  options.metrics.addCollector(guarded);
  return { refresh };
}
