// Savings attribution: the tenant's baseline model on the same tokens, the prompt-cache discount, the off-peak discount.
import type { CatalogModel } from '../config/catalog.js';
import { costOf, type TokenCounts } from '../metering/cost.js';
import type { Catalog, UnitPrices } from './catalog.js';
import type { Policy } from './policy.js';

const resolveModel = (catalog: Catalog, m: CatalogModel | string | null | undefined): CatalogModel | undefined =>
  m == null ? undefined : typeof m === 'string' ? catalog.resolve(m) : m;

/** What the baseline model would have cost for these tokens, without any cache discount; 0 if it is not in the catalog. */
export function baselineOf(catalog: Catalog, baselineModel: CatalogModel | string | null, tokens: TokenCounts, at: Date): bigint {
  const b = resolveModel(catalog, baselineModel);
  if (!b) return 0n;
  return costOf({ ...tokens, cachedInput: 0 }, catalog.priceAt(b, at, tokens.input));
}

/** The tenant's baseline model (policy.baseline_model) priced on the same tokens, without cache discount. */
export function baselineCost(catalog: Catalog, policy: Policy, tokens: TokenCounts, at: Date): bigint {
  return baselineOf(catalog, policy.baseline_model, tokens, at);
}

/** Cost at the row's most expensive tariff (base included) minus the cost now; 0 without tariffs or under a size tier. */
function offPeakSaving(catalog: Catalog, model: CatalogModel, tokens: TokenCounts, at: Date, costNow: bigint): bigint {
  const row = catalog.rowAt(model, at);
  if (row.tariffs.length === 0 || row.tiers.some((t) => tokens.input > t.above)) return 0n;
  let max = costOf(tokens, row.base);
  for (const t of row.tariffs) {
    const c = costOf(tokens, t.prices);
    if (c > max) max = c;
  }
  return max > costNow ? max - costNow : 0n;
}

export interface Savings {
  /** What the request cost (for reference: routing saving = baselinePico − costPico − cache and off-peak savings are separate reasons). */
  costPico: bigint;
  baselinePico: bigint;
  /** cached tokens × (input − cached input price), at the prices in force. */
  promptCachePico: bigint;
  offPeakPico: bigint;
}

export function savingsOf(args: {
  catalog: Catalog;
  model: CatalogModel | string;
  tokens: TokenCounts;
  at: Date;
  baselineModel: CatalogModel | string | null;
  /** The model's prices at `at` for these tokens and the cost at them, when the caller has them already (meter()). */
  priced?: { prices: Readonly<UnitPrices>; costPico: bigint };
}): Savings {
  const { catalog, tokens, at } = args;
  const m = resolveModel(catalog, args.model);
  const baselinePico = baselineOf(catalog, args.baselineModel, tokens, at);
  if (!m) return { costPico: 0n, baselinePico, promptCachePico: 0n, offPeakPico: 0n };
  const prices = args.priced?.prices ?? catalog.priceAt(m, at, tokens.input);
  const costPico = args.priced?.costPico ?? costOf(tokens, prices);
  const cached = BigInt(Math.min(tokens.cachedInput, tokens.input));
  const perToken = prices.input - prices.cachedInput;
  return {
    costPico,
    baselinePico,
    promptCachePico: perToken > 0n ? cached * perToken : 0n,
    offPeakPico: offPeakSaving(catalog, m, tokens, at, costPico),
  };
}
