// Random operation sequences for the limiter property tests: one runner, so that every limiter under comparison sees
// exactly the same admissions, settlements, state reads and resets (no vitest import: plain helpers).
import type { AdmitRequest, AdmitResult, BudgetSpec, Limiter, RateLimitSpec } from '../../../src/limits/interface.js';
import { request, settlement, T0 } from './requests.js';

export type SequenceOp =
  | { kind: 'admit'; tenant?: number; key: string | null; model: string; dt: number; tokens: number; reserve: bigint }
  | { kind: 'settle'; pick: number; actualPart: number; actualTokens: number }
  | { kind: 'state'; tenant?: number }
  | { kind: 'reset'; tenant?: number };

export interface SequenceSetup {
  tenants: string[];
  limits: { tenant: RateLimitSpec; key: RateLimitSpec; model: RateLimitSpec };
  budgetsAt: (now: number) => BudgetSpec[];
  /** How an admission's answer is written down (all of it, or only the decision). */
  showAdmit: (r: AdmitResult) => string;
  /** false: settlements are not awaited, as in the gateway (they go out later, with the next command). */
  awaitSettle: boolean;
  /** Read every tenant's budgets once more at the end. */
  finalState: boolean;
}

export const showJson = (v: unknown) => JSON.stringify(v, (_, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));

/** Runs the operations on one limiter (its clock is `clock`) and returns everything it answered. */
export async function runSequence(limiter: Limiter, ops: SequenceOp[], setup: SequenceSetup, clock: { now: number }): Promise<string[]> {
  const out: string[] = [];
  const admitted: AdmitRequest[] = [];
  let n = 0;
  const tenantOf = (i: number | undefined) => setup.tenants[i ?? 0];
  clock.now = T0;
  for (const o of ops) {
    if (o.kind === 'admit') {
      clock.now += o.dt;
      const req = request({
        tenantId: tenantOf(o.tenant),
        requestId: `r${n++}`,
        keyId: o.key,
        model: o.model,
        now: clock.now,
        tokens: o.tokens,
        reservePico: o.reserve,
        tenant: setup.limits.tenant,
        key: setup.limits.key,
        modelLimits: setup.limits.model,
        budgets: setup.budgetsAt(clock.now),
      });
      const r = await limiter.admit(req);
      if (r.ok) admitted.push(req);
      out.push(setup.showAdmit(r));
    } else if (o.kind === 'settle') {
      if (admitted.length === 0) continue;
      const req = admitted[o.pick % admitted.length];
      const actual = (req.reservePico * BigInt(o.actualPart)) / 100n;
      const settled = limiter.settle({ ...settlement(req, actual, o.actualTokens, clock.now), budgets: setup.budgetsAt(clock.now) });
      if (setup.awaitSettle) await settled;
    } else if (o.kind === 'state') {
      out.push(showJson(await limiter.budgetState(tenantOf(o.tenant), setup.budgetsAt(clock.now))));
    } else {
      await limiter.resetBudgets(tenantOf(o.tenant));
    }
  }
  if (setup.finalState) for (const t of setup.tenants) out.push(showJson(await limiter.budgetState(t, setup.budgetsAt(clock.now))));
  return out;
}
