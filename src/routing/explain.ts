// The body of POST /v1/route/explain: a route plan as JSON, money as exact decimal USD strings.
import { picoToUsd } from '../metering/money.js';
import { perMillionUsd } from './constraints.js';
import type { Candidate, RoutePlan } from './router.js';

export interface ExplainedCandidate {
  rank: number;
  provider: string;
  model: string;
  estimated_cost_usd: string;
  max_cost_usd: string;
  quality: number | null;
  quality_source: string | null;
  /** USD per 1M tokens at the tariff in force. */
  prices: { input: string; cached_input: string; output: string };
  price_version: string;
  tariff: string | null;
  expected_cached_share: number;
}

export interface RouteExplanation {
  object: 'route.explanation';
  alias: string | null;
  strategy: string | null;
  pinned: boolean;
  substituted_from: string | null;
  fallback: boolean;
  candidates: ExplainedCandidate[];
  excluded: Array<{ provider: string; model: string; reasons: string[] }>;
}

function explainCandidate(c: Candidate): ExplainedCandidate {
  return {
    rank: c.rank,
    provider: c.model.provider,
    model: c.model.id,
    estimated_cost_usd: picoToUsd(c.estCostPico),
    max_cost_usd: picoToUsd(c.maxCostPico),
    quality: c.quality,
    quality_source: c.qualitySource,
    prices: {
      input: perMillionUsd(c.prices.input),
      cached_input: perMillionUsd(c.prices.cachedInput),
      output: perMillionUsd(c.prices.output),
    },
    price_version: c.prices.version,
    tariff: c.prices.tariff,
    expected_cached_share: c.cachedShare,
  };
}

export function explainRoute(plan: RoutePlan): RouteExplanation {
  return {
    object: 'route.explanation',
    alias: plan.alias,
    strategy: plan.strategy,
    pinned: plan.pinned,
    substituted_from: plan.substitutedFrom ?? null,
    fallback: plan.route ? plan.route.fallback : plan.candidates.length > 1,
    candidates: [...plan.candidates].sort((a, b) => a.rank - b.rank).map(explainCandidate),
    excluded: plan.excluded.map((e) => ({ provider: e.provider, model: e.model, reasons: e.reasons })),
  };
}
