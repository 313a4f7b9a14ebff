// The Limiter contract: one suite, run against the Redis limiter (real Redis) and the in-process limiter.
import { describe, expect, it } from 'vitest';
import type { Limiter, SpendSeeder } from '../../src/limits/interface.js';
import { isGatewayError } from '../../src/errors.js';
import { uniqueId } from '../support/services.js';
import { daySpec, monthSpec, request, settlement, T0, tableSeeder } from './support/requests.js';

export { daySpec, monthSpec, request, settlement, T0, tableSeeder };

export interface LimiterFactoryOptions {
  seeder: SpendSeeder;
  reservationTtlS: number;
  now: () => number;
}

export type LimiterFactory = (o: LimiterFactoryOptions) => Promise<Limiter>;

const MINUTE = 60_000;

export function limiterContract(name: string, factory: LimiterFactory): void {
  describe(`Limiter contract: ${name}`, () => {
    const make = async (ttlS = 900, initial: Record<string, bigint> = {}) => {
      const s = tableSeeder(initial);
      let clock = T0;
      const limiter = await factory({ seeder: s.seeder, reservationTtlS: ttlS, now: () => clock });
      return { limiter, ...s, setClock: (t: number) => (clock = t) };
    };

    it('admits exactly N requests per minute, then refuses with the wait until one more fits', async () => {
      const { limiter } = await make();
      const tenantId = uniqueId('lt');
      const results = [];
      for (let i = 0; i < 8; i++) results.push(await limiter.admit(request({ tenantId, tenant: { rpm: 5 } })));
      expect(results.map((r) => r.ok)).toEqual([true, true, true, true, true, false, false, false]);
      expect(results.slice(0, 5).map((r) => r.rate.remainingRequests)).toEqual([4, 3, 2, 1, 0]);
      const refused = results[5];
      if (refused.ok) throw new Error('expected a refusal');
      expect(refused.reason).toBe('requests');
      expect(refused.retryAfterMs).toBe(MINUTE / 5);
      expect(refused.rate.limitRequests).toBe(5);
      expect(refused.rate.remainingRequests).toBe(0);
      // Just before the wait is over it is still refused; at the end of it one request (and only one) fits.
      expect((await limiter.admit(request({ tenantId, tenant: { rpm: 5 }, now: T0 + MINUTE / 5 - 1 }))).ok).toBe(false);
      expect((await limiter.admit(request({ tenantId, tenant: { rpm: 5 }, now: T0 + MINUTE / 5 }))).ok).toBe(true);
      expect((await limiter.admit(request({ tenantId, tenant: { rpm: 5 }, now: T0 + MINUTE / 5 }))).ok).toBe(false);
      await limiter.close();
    });

    it('charges estimated tokens to TPM and corrects them by the actual usage at settlement', async () => {
      const { limiter } = await make();
      const tenantId = uniqueId('lt');
      const first = request({ tenantId, tokens: 600, tenant: { tpm: 1000 } });
      const a = await limiter.admit(first);
      expect(a.ok && a.rate.remainingTokens).toBe(400);
      const second = request({ tenantId, tokens: 600, tenant: { tpm: 1000 } });
      const refused = await limiter.admit(second);
      expect(refused.ok ? null : refused.reason).toBe('tokens');
      await limiter.settle(settlement(first, 0n, 100));
      const again = await limiter.admit(second);
      expect(again.ok && again.rate.remainingTokens).toBe(1000 - 100 - 600);
      // A second settlement of the same request corrects nothing more.
      await limiter.settle(settlement(first, 0n, 100));
      const probe = await limiter.admit(request({ tenantId, tokens: 301, tenant: { tpm: 1000 } }));
      expect(probe.ok).toBe(false);
      // Usage above the estimate is charged too.
      await limiter.settle(settlement(second, 0n, 700));
      const after = await limiter.admit(request({ tenantId, tokens: 0, tenant: { tpm: 1000 } }));
      expect(after.ok && after.rate.remainingTokens).toBe(1000 - 100 - 700);
      await limiter.close();
    });

    it('does not refill a token bucket when a settlement carries an earlier instant than the last admission', async () => {
      const { limiter } = await make();
      const tenantId = uniqueId('lt');
      const first = request({ tenantId, tokens: 500, tenant: { tpm: 1000 } });
      await limiter.admit(first);
      const later = T0 + 30_000; // half a minute on: 500 tokens have drained
      expect((await limiter.admit(request({ tenantId, tokens: 500, now: later, tenant: { tpm: 1000 } }))).ok).toBe(true);
      await limiter.settle(settlement(first, 0n, 501, T0)); // one token more than estimated, stamped with the request's start
      const probe = await limiter.admit(request({ tenantId, tokens: 0, now: later, tenant: { tpm: 1000 } }));
      expect(probe.ok && probe.rate.remainingTokens).toBe(1000 - 500 - 1);
      await limiter.close();
    });

    it('applies key limits per key and tenant limits across keys, and model limits per model', async () => {
      const { limiter } = await make();
      const tenantId = uniqueId('lt');
      const ask = (keyId: string, model = 'gpt-4o-mini') =>
        limiter.admit(request({ tenantId, keyId, model, tenant: { rpm: 5 }, key: { rpm: 2 }, modelLimits: { rpm: 4 } }));
      expect((await ask('k1')).ok).toBe(true);
      expect((await ask('k1')).ok).toBe(true);
      const third = await ask('k1');
      expect(third.ok ? null : [third.reason, third.rate.limitRequests]).toEqual(['requests', 2]);
      expect((await ask('k2')).ok).toBe(true);
      expect((await ask('k2')).ok).toBe(true);
      // Model limit (4) reached for gpt-4o-mini: another model still passes, up to the tenant's 5.
      expect((await ask('k3')).ok).toBe(false);
      expect((await ask('k3', 'deepseek-flash')).ok).toBe(true);
      const tenantFull = await ask('k4', 'gemini-2.5-flash');
      expect(tenantFull.ok ? null : [tenantFull.reason, tenantFull.rate.limitRequests]).toEqual(['requests', 5]);
      await limiter.close();
    });

    it('is all or nothing: a refused request consumes no rate and reserves no budget', async () => {
      const { limiter } = await make();
      const tenantId = uniqueId('lt');
      const budgets = [daySpec(T0, 100n)];
      expect((await limiter.admit(request({ tenantId, budgets, reservePico: 90n, tenant: { rpm: 3 } }))).ok).toBe(true);
      // Refused by the budget: the RPM is not consumed.
      const byBudget = await limiter.admit(request({ tenantId, budgets, reservePico: 20n, tenant: { rpm: 3 } }));
      expect(byBudget.ok ? null : byBudget.reason).toBe('budget');
      expect(byBudget.rate.remainingRequests).toBe(2);
      expect((await limiter.admit(request({ tenantId, budgets, reservePico: 0n, tenant: { rpm: 3 } }))).ok).toBe(true);
      expect((await limiter.admit(request({ tenantId, budgets, reservePico: 10n, tenant: { rpm: 3 } }))).ok).toBe(true);
      // Refused by the RPM: no budget reserved.
      const byRate = await limiter.admit(request({ tenantId, budgets, reservePico: 0n, tenant: { rpm: 3 } }));
      expect(byRate.ok ? null : byRate.reason).toBe('requests');
      expect((await limiter.budgetState(tenantId, budgets))[0].spentPico).toBe(100n);
      await limiter.close();
    });

    it('reserves, settles and releases budget, idempotently per request id', async () => {
      const { limiter } = await make();
      const tenantId = uniqueId('lt');
      const budgets = [daySpec(T0, 100n), monthSpec(T0, 1000n)];
      const r1 = request({ tenantId, budgets, reservePico: 40n });
      const r2 = request({ tenantId, budgets, reservePico: 40n });
      const r3 = request({ tenantId, budgets, reservePico: 40n });
      const a1 = await limiter.admit(r1);
      expect(a1.ok && a1.budgets.map((b) => b.spentPico)).toEqual([40n, 40n]);
      expect((await limiter.admit(r2)).ok).toBe(true);
      const refused = await limiter.admit(r3);
      if (refused.ok) throw new Error('expected a refusal');
      expect(refused.reason).toBe('budget');
      expect(refused.budget?.period).toBe('day');
      expect(refused.budget?.spentPico).toBe(80n);
      expect(refused.retryAfterMs).toBe(budgets[0].periodEnd.getTime() - T0);
      await limiter.settle(settlement(r1, 13n));
      await limiter.settle(settlement(r1, 13n));
      expect((await limiter.budgetState(tenantId, budgets)).map((b) => b.spentPico)).toEqual([53n, 53n]);
      expect((await limiter.admit(r3)).ok).toBe(true);
      await limiter.settle(settlement(r2, 0n)); // released
      await limiter.settle(settlement(r3, 40n));
      await limiter.settle(settlement(r3, 40n));
      expect((await limiter.budgetState(tenantId, budgets)).map((b) => b.spentPico)).toEqual([53n, 53n]);
      await limiter.close();
    });

    it('counts soft budgets without refusing', async () => {
      const { limiter } = await make();
      const tenantId = uniqueId('lt');
      const budgets = [daySpec(T0, 10n, 'soft')];
      const r = request({ tenantId, budgets, reservePico: 25n });
      const a = await limiter.admit(r);
      expect(a.ok && a.budgets[0].spentPico).toBe(25n);
      await limiter.settle(settlement(r, 30n));
      expect((await limiter.budgetState(tenantId, budgets))[0].spentPico).toBe(30n);
      await limiter.close();
    });

    it('returns expired reservations, and still charges a request settled after its reservation expired', async () => {
      const { limiter, setClock } = await make(10);
      const tenantId = uniqueId('lt');
      const budgets = [daySpec(T0, 100n)];
      const stuck = request({ tenantId, budgets, reservePico: 60n });
      expect((await limiter.admit(stuck)).ok).toBe(true);
      expect((await limiter.admit(request({ tenantId, budgets, reservePico: 60n, now: T0 + 9_000 }))).ok).toBe(false);
      const later = request({ tenantId, budgets, reservePico: 60n, now: T0 + 10_001 });
      expect((await limiter.admit(later)).ok).toBe(true);
      setClock(T0 + 10_002);
      expect((await limiter.budgetState(tenantId, budgets))[0].spentPico).toBe(60n);
      await limiter.settle(settlement(stuck, 30n, 0, T0 + 10_002));
      await limiter.settle(settlement(stuck, 30n, 0, T0 + 10_003));
      expect((await limiter.budgetState(tenantId, budgets))[0].spentPico).toBe(90n);
      await limiter.close();
    });

    it('seeds a missing counter from the ledger, and again for a new period', async () => {
      const { limiter, table, calls, setClock } = await make();
      const tenantId = uniqueId('lt');
      table.set(tenantId, 70n);
      const budgets = [daySpec(T0, 100n)];
      const refused = await limiter.admit(request({ tenantId, budgets, reservePico: 40n }));
      expect(refused.ok ? null : [refused.reason, refused.budget?.spentPico]).toEqual(['budget', 70n]);
      expect(calls).toEqual([{ tenantId, since: budgets[0].periodStart.toISOString() }]);
      expect((await limiter.admit(request({ tenantId, budgets, reservePico: 30n }))).ok).toBe(true);
      expect(calls).toHaveLength(1);
      // The next UTC day: a new counter, seeded from the ledger since its start.
      const next = T0 + 86_400_000;
      table.set(tenantId, 5n);
      const nextBudgets = [daySpec(next, 100n)];
      const a = await limiter.admit(request({ tenantId, budgets: nextBudgets, reservePico: 40n, now: next }));
      expect(a.ok && a.budgets[0].spentPico).toBe(45n);
      expect(calls[1]).toEqual({ tenantId, since: nextBudgets[0].periodStart.toISOString() });
      setClock(next);
      expect((await limiter.budgetState(tenantId, nextBudgets))[0].spentPico).toBe(45n);
      await limiter.close();
    });

    it('rebuilds counters from the ledger after resetBudgets', async () => {
      const { limiter, table } = await make();
      const tenantId = uniqueId('lt');
      const budgets = [daySpec(T0, 1000n)];
      const r = request({ tenantId, budgets, reservePico: 100n });
      await limiter.admit(r);
      await limiter.settle(settlement(r, 80n));
      expect((await limiter.budgetState(tenantId, budgets))[0].spentPico).toBe(80n);
      table.set(tenantId, 500n);
      const inflight = request({ tenantId, budgets, reservePico: 100n });
      await limiter.admit(inflight);
      await limiter.resetBudgets(tenantId);
      expect((await limiter.budgetState(tenantId, budgets))[0].spentPico).toBe(500n);
      // A request in flight during the reset is charged its actual cost, its old reservation is not taken back.
      await limiter.settle(settlement(inflight, 7n));
      expect((await limiter.budgetState(tenantId, budgets))[0].spentPico).toBe(507n);
      await limiter.close();
    });

    it('answers 503 when a counter is missing and the ledger cannot be read, reserving nothing', async () => {
      let broken = true;
      const seeder: SpendSeeder = async () => {
        if (broken) throw new Error('ledger down');
        return 0n;
      };
      const limiter = await factory({ seeder, reservationTtlS: 900, now: () => T0 });
      const tenantId = uniqueId('lt');
      const budgets = [daySpec(T0, 100n)];
      const err = await limiter.admit(request({ tenantId, budgets, reservePico: 60n, tenant: { rpm: 1 } })).catch((e: unknown) => e);
      expect(isGatewayError(err) ? [err.status, err.code] : err).toEqual([503, 'service_unavailable']);
      expect(limiter.status).toBe('up');
      broken = false;
      const a = await limiter.admit(request({ tenantId, budgets, reservePico: 60n, tenant: { rpm: 1 } }));
      expect(a.ok && a.budgets[0].spentPico).toBe(60n);
      await limiter.close();
    });

    it('keeps money exact beyond 2^53 pico-USD', async () => {
      const { limiter, table } = await make();
      const tenantId = uniqueId('lt');
      const big = 2n ** 53n + 1n;
      table.set(tenantId, big);
      const budgets = [daySpec(T0, big + 10n)];
      const r = request({ tenantId, budgets, reservePico: 9n });
      const a = await limiter.admit(r);
      expect(a.ok && a.budgets[0].spentPico).toBe(big + 9n);
      expect((await limiter.admit(request({ tenantId, budgets, reservePico: 2n }))).ok).toBe(false);
      const third = await limiter.admit(request({ tenantId, budgets, reservePico: 1n }));
      expect(third.ok && third.budgets[0].spentPico).toBe(big + 10n); // 2^53 + 11: odd, so no double holds it
      await limiter.settle(settlement(r, 3n));
      expect((await limiter.budgetState(tenantId, budgets))[0].spentPico).toBe(big + 4n);
      await limiter.close();
    });
  });
}
