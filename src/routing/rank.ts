// Strategy orderings of eligible candidates (exact: BigInt cost, quality scaled to integers) and the cache-affinity nudge.
import type { Strategy } from './policy.js';

export interface Rankable {
  id: string;
  quality: number | null;
  estCostPico: bigint;
}

/** Quality as an integer (micro-points), so that value comparisons are exact cross-multiplications. */
const q6 = (q: number | null): bigint => (q === null ? 0n : BigInt(Math.round(q * 1e6)));
const cmpBig = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);
/** Higher quality first; a model without a score sorts after every scored one. */
const byQualityDesc = (a: Rankable, b: Rankable) => {
  if (a.quality === b.quality) return 0;
  if (a.quality === null) return 1;
  if (b.quality === null) return -1;
  return b.quality - a.quality;
};
const byCostAsc = (a: Rankable, b: Rankable) => cmpBig(a.estCostPico, b.estCostPico);
const byId = (a: Rankable, b: Rankable) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * Quality per dollar, compared as q_a / c_a vs q_b / c_b by cross-multiplication: exact, and a free model with a score
 * (cost 0) beats any paid one. A model without a score has value 0.
 */
function byValueDesc(a: Rankable, b: Rankable): number {
  return cmpBig(q6(b.quality) * a.estCostPico, q6(a.quality) * b.estCostPico);
}

export function comparatorFor(strategy: Strategy): (a: Rankable, b: Rankable) => number {
  const chain = (...cs: Array<(a: Rankable, b: Rankable) => number>) => (a: Rankable, b: Rankable) => {
    for (const c of cs) {
      const r = c(a, b);
      if (r !== 0) return r;
    }
    return 0;
  };
  switch (strategy) {
    case 'cheapest':
      return chain(byCostAsc, byQualityDesc, byId);
    case 'best_quality':
      return chain(byQualityDesc, byCostAsc, byId);
    case 'best_value':
      return chain(byValueDesc, byCostAsc, byQualityDesc, byId);
  }
}

/** How close (per mille of the leader's rank key) a candidate must be to count as "equal standing" for cache affinity. */
export const AFFINITY_TOLERANCE_PERMILLE = 20n;

/** `b` (ranked after `a`) stands level with `a` on the strategy's primary key, within the tolerance. */
export function equalStanding(strategy: Strategy, a: Rankable, b: Rankable): boolean {
  const t = AFFINITY_TOLERANCE_PERMILLE;
  switch (strategy) {
    case 'cheapest':
      return b.estCostPico * 1000n <= a.estCostPico * (1000n + t);
    case 'best_quality':
      if (a.quality === null || b.quality === null) return a.quality === b.quality;
      return q6(b.quality) * 1000n >= q6(a.quality) * (1000n - t);
    case 'best_value':
      // value_b >= value_a × (1 − t): q_b × c_a × 1000 >= q_a × c_b × (1000 − t)
      return q6(b.quality) * a.estCostPico * 1000n >= q6(a.quality) * b.estCostPico * (1000n - t);
  }
}

/** Sort by strategy, then move the affinity model to the front when it stands level with the leader. */
export function rankCandidates<T extends Rankable>(items: T[], strategy: Strategy, affinityModel: string | null): T[] {
  const sorted = [...items].sort(comparatorFor(strategy));
  if (!affinityModel || sorted.length < 2) return sorted;
  const i = sorted.findIndex((c) => c.id === affinityModel);
  if (i <= 0 || !equalStanding(strategy, sorted[0], sorted[i])) return sorted;
  const [hinted] = sorted.splice(i, 1);
  return [hinted, ...sorted];
}
