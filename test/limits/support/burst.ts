// A burst of concurrent requests against one limiter: admit, wait a little, settle with an actual cost ≤ the reservation.
import type { Limiter } from '../../../src/limits/interface.js';
import { daySpec, request, settlement } from './requests.js';

export interface BurstJob {
  tenantId: string;
  /** Distinguishes the request ids of two processes. */
  label: string;
  count: number;
  now: number;
  budgetPico?: string;
  reservePico?: string;
  rpm?: number;
}

export interface BurstOutcome {
  admitted: number;
  refused: Record<string, number>;
  /** Sum of the actual costs settled (pico-USD, decimal string). */
  settledPico: string;
}

/** Deterministic actual cost in [reserve/2, reserve] for request i. */
export function actualCost(reserve: bigint, i: number): bigint {
  return reserve / 2n + ((reserve / 2n) * BigInt((i * 37) % 100)) / 100n;
}

export async function runBurst(limiter: Limiter, job: BurstJob): Promise<BurstOutcome> {
  const reserve = BigInt(job.reservePico ?? '0');
  const budgets = job.budgetPico ? [daySpec(job.now, BigInt(job.budgetPico))] : [];
  const refused: Record<string, number> = {};
  let admitted = 0;
  let settled = 0n;
  await Promise.all(
    Array.from({ length: job.count }, async (_, i) => {
      const req = request({
        tenantId: job.tenantId,
        requestId: `${job.label}-${i}`,
        now: job.now,
        reservePico: reserve,
        budgets,
        tenant: job.rpm ? { rpm: job.rpm } : {},
      });
      const r = await limiter.admit(req);
      if (!r.ok) {
        refused[r.reason] = (refused[r.reason] ?? 0) + 1;
        return;
      }
      admitted++;
      // Let other admissions interleave with this request's "upstream call".
      await new Promise((resolve) => setTimeout(resolve, i % 7));
      const actual = actualCost(reserve, i);
      await limiter.settle(settlement(req, actual));
      settled += actual;
    }),
  );
  return { admitted, refused, settledPico: settled.toString() };
}
