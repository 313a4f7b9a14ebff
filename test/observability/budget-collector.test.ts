// Budget gauges follow the limiter and the tenant table at scrape time: set, refreshed after an interval, cleared when removed.
import { describe, expect, it } from 'vitest';
import { createMemoryLimiter } from '../../src/limits/memory-limiter.js';
import { installBudgetCollector } from '../../src/metrics/budget-collector.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { policySchema, type PolicyInput } from '../../src/routing/policy.js';
import type { Tenant } from '../../src/store/interface.js';
import { parseExposition, sumOf } from './support.js';

const PICO = 1_000_000_000_000n;

function tenant(id: string, name: string, policy: PolicyInput, disabled = false): Tenant {
  return { id, name, disabled, policy: policySchema.parse(policy), policyVersion: 1, createdAt: new Date(0) };
}

describe('budget collector', () => {
  it('exports each budgeted tenant\'s limit and spend, refreshes after the interval and clears removed budgets', async () => {
    let now = Date.parse('2026-11-20T12:00:00Z');
    const spent = new Map<string, bigint>([['t1', 12n * PICO + PICO / 4n], ['t2', 3n * PICO]]);
    let seeded = 0;
    const limiter = createMemoryLimiter({
      seeder: async (id) => {
        seeded++;
        return spent.get(id) ?? 0n;
      },
      reservationTtlS: 60,
      now: () => now,
    });
    let tenants = [
      tenant('t1', 'acme', { budgets: { monthly: { limit_usd: '100' }, daily: { limit_usd: '20.5' } } }),
      tenant('t2', 'globex', { budgets: { monthly: { limit_usd: '50' } } }),
      tenant('t3', 'initech', {}),
      tenant('t4', 'gone', { budgets: { monthly: { limit_usd: '1' } } }, true),
    ];
    const metrics = createMetrics({ maxTenantLabels: 10, defaultMetrics: false });
    installBudgetCollector({ metrics, limiter, listTenants: async () => tenants, clock: () => new Date(now), minIntervalMs: 10_000 });

    let s = parseExposition(await metrics.metricsText());
    expect(sumOf(s, 'tollgate_budget_limit_usd', { tenant: 'acme', period: 'month' })).toBe(100);
    expect(sumOf(s, 'tollgate_budget_limit_usd', { tenant: 'acme', period: 'day' })).toBe(20.5);
    expect(sumOf(s, 'tollgate_budget_spent_usd', { tenant: 'acme', period: 'month' })).toBe(12.25);
    expect(sumOf(s, 'tollgate_budget_spent_usd', { tenant: 'globex', period: 'month' })).toBe(3);
    expect(s.some((x) => x.labels.tenant === 'initech' || x.labels.tenant === 'gone')).toBe(false);

    // Within the interval: no new limiter work, even though the tenant table changed.
    const before = seeded;
    tenants = [tenants[0], tenant('t2', 'globex', {})];
    await metrics.metricsText();
    expect(seeded).toBe(before);

    now += 11_000;
    s = parseExposition(await metrics.metricsText());
    expect(s.some((x) => x.labels.tenant === 'globex')).toBe(false);
    expect(sumOf(s, 'tollgate_budget_limit_usd', { tenant: 'acme', period: 'month' })).toBe(100);
  });

  it('keeps scrapes working when the limiter fails, and reports the error', async () => {
    const errors: unknown[] = [];
    const metrics = createMetrics({ maxTenantLabels: 10, defaultMetrics: false });
    installBudgetCollector({
      metrics,
      limiter: { budgetState: async () => Promise.reject(new Error('redis down')) },
      listTenants: async () => [tenant('t1', 'acme', { budgets: { monthly: { limit_usd: '100' } } })],
      clock: () => new Date(),
      onError: (e) => errors.push(e),
    });
    const text = await metrics.metricsText();
    expect(text).toContain('# TYPE tollgate_budget_limit_usd gauge');
    expect(errors).toHaveLength(1);
  });
});
