// The router: from a request's model field, the tenant policy, the request's needs and provider health, a ranked plan.
// Pure and synchronous: time comes from `now`, health from `available`; no I/O on this path.
import type { CatalogModel } from '../config/catalog.js';
import { GatewayError } from '../errors.js';
import { costOf } from '../metering/cost.js';
import type { ProviderName } from '../providers/types.js';
import type { Catalog, UnitPrices } from './catalog.js';
import {
  capabilityGaps,
  hasCapabilityGap,
  kindReason,
  minQualityReason,
  policyReasons,
  priceCaps,
  priceReasons,
  qualityOf,
  qualityScoreOf,
  retiredReason,
  type RequestKind,
} from './constraints.js';
import type { RequestNeeds } from './needs.js';
import type { Policy, RouteConfig, Strategy } from './policy.js';
import { rankCandidates } from './rank.js';

export interface Candidate {
  model: CatalogModel;
  prices: UnitPrices;
  /** Effective quality: the policy's override, else the catalog's score. */
  quality: number | null;
  qualitySource: string | null;
  /** This request's estimated cost: prompt at this hour's input price (cached share at the cached price) + expected output. */
  estCostPico: bigint;
  /** Worst case: prompt × input + max output × output (what a hard budget reserves). */
  maxCostPico: bigint;
  /** Share of the prompt expected from the provider's prompt cache (cache-affinity hint), 0 without one. */
  cachedShare: number;
  /** 1 = first choice; later ones are the fallbacks. */
  rank: number;
}

export interface Exclusion {
  model: string;
  provider: ProviderName;
  reasons: string[];
}

export interface RoutePlan {
  alias: string | null;
  strategy: Strategy | null;
  pinned: boolean;
  /** The requested model id when another model serves instead (successor of a retired model, or a substitute). */
  substitutedFrom?: string;
  candidates: Candidate[];
  /** Every model left out, with every reason; built when first read (explain, errors), not per routed request. */
  readonly excluded: Exclusion[];
  /** The alias's route config (fallback on/off, max attempts), null for a pinned model. */
  route: RouteConfig | null;
}

/**
 * A routing plan whose exclusions are built when first read (explain, the no-route error), not per routed request.
 * A class, not an object literal with `get excluded()`: each evaluation of such a literal gives its object an accessor
 * of its own, kept in the old generation with the object's hidden class, and through the getter's closure that held
 * the plan's whole input and every excluded model past each young-generation collection, so all of it was promoted
 * (bench/promotion-probe.ts: ~3 KB per request).
 */
class Plan implements RoutePlan {
  alias: string | null;
  strategy: Strategy | null;
  pinned: boolean;
  substitutedFrom?: string;
  candidates: Candidate[];
  route: RouteConfig | null;
  #exclusions: (() => Exclusion[]) | null;
  #excluded: Exclusion[] | null = null;

  constructor(p: Omit<RoutePlan, 'excluded'>, exclusions: () => Exclusion[]) {
    this.alias = p.alias;
    this.strategy = p.strategy;
    this.pinned = p.pinned;
    if (p.substitutedFrom !== undefined) this.substitutedFrom = p.substitutedFrom;
    this.candidates = p.candidates;
    this.route = p.route;
    this.#exclusions = exclusions;
  }

  get excluded(): Exclusion[] {
    if (this.#excluded === null) {
      this.#excluded = this.#exclusions!();
      this.#exclusions = null;
    }
    return this.#excluded;
  }
}

export interface AffinityHint {
  model: string;
  cachedShare: number;
}

export interface PlanInput {
  catalog: Catalog;
  policy: Policy;
  /** The request's `model` field. */
  model: string;
  needs: RequestNeeds;
  now: Date;
  kind: RequestKind;
  /** null = usable; else why not. Must be side-effect free (it is asked about every model). */
  available: (m: CatalogModel) => string | null;
  /** Tenant's recent average output, or policy.expected_output_tokens. */
  expectedOutputTokens: number;
  /** Strategy forced by a budget downgrade. */
  strategyOverride?: Strategy;
  affinity?: AffinityHint | null;
}

export function notFound(name: string): GatewayError {
  return new GatewayError('model_not_found', `The model \`${name}\` does not exist or you do not have access to it.`, {
    param: 'model',
  });
}

/** Prices and cost estimates of one model for this request. */
function price(input: PlanInput, m: CatalogModel): Omit<Candidate, 'rank' | 'quality' | 'qualitySource' | 'model'> {
  const { needs, kind, policy } = input;
  const prices = input.catalog.priceAt(m, input.now, needs.promptTokens);
  const expectedOut =
    kind === 'embedding'
      ? 0
      : needs.maxOutput !== null
        ? Math.min(needs.maxOutput, input.expectedOutputTokens)
        : input.expectedOutputTokens;
  const maxOut = kind === 'embedding' ? 0 : needs.maxOutput ?? Math.min(m.capabilities.max_output, policy.budgets.max_output_reserve);
  const hinted = input.affinity && input.affinity.model === m.id ? input.affinity.cachedShare : 0;
  const share = Number.isFinite(hinted) ? Math.min(Math.max(hinted, 0), 1) : 0;
  const cached = Math.floor(needs.promptTokens * share);
  return {
    prices,
    estCostPico: costOf({ input: needs.promptTokens, cachedInput: cached, output: expectedOut, reasoning: 0 }, prices),
    maxCostPico: BigInt(needs.promptTokens) * prices.input + BigInt(maxOut) * prices.output,
    cachedShare: share,
  };
}

function candidateOf(input: PlanInput, m: CatalogModel): Candidate {
  const q = qualityOf(input.policy, m);
  const p = price(input, m);
  // Written out, not `...price(…)`: on Node 20 each property after a spread goes through V8's runtime (~0.8 µs).
  return { model: m, prices: p.prices, estCostPico: p.estCostPico, maxCostPico: p.maxCostPico, cachedShare: p.cachedShare, quality: q.score, qualitySource: q.source, rank: 0 };
}

function ranked(cands: Candidate[], strategy: Strategy, affinity: AffinityHint | null | undefined): Candidate[] {
  const items = cands.map((c) => ({ id: c.model.id, quality: c.quality, estCostPico: c.estCostPico, c }));
  return rankCandidates(items, strategy, affinity?.model ?? null).map((x, i) => ({ ...x.c, rank: i + 1 }));
}

/** Why a model cannot serve this alias by policy and request (availability aside): every reason, for the exclusions. */
function staticReasons(input: PlanInput, route: RouteConfig, m: CatalogModel): string[] {
  const r: string[] = [];
  const kind = kindReason(m, input.kind);
  if (kind) r.push(kind);
  const retired = retiredReason(input.catalog, m, input.now);
  if (retired) r.push(retired);
  r.push(...policyReasons(input.catalog, input.policy, m, route));
  if (!kind) for (const g of capabilityGaps(m, input.needs, input.kind)) r.push(g.reason);
  const mq = minQualityReason(route, qualityOf(input.policy, m).score);
  if (mq) r.push(mq);
  return r;
}

// routeModels per catalog, policy, route and kind. Policies are immutable (a change is a new tenant object), as are a
// catalog and its models, so an answer never goes stale; the weak keys let replaced policies and catalogs go.
const routeModelsMemo = new WeakMap<Catalog, WeakMap<Policy, Map<RouteConfig, Partial<Record<RequestKind, readonly CatalogModel[]>>>>>();

/**
 * The catalog's models of this kind that the policy and the route let serve it (lists, jurisdictions, min_quality), in
 * catalog order: what does not depend on the request or the hour, worked out once instead of for every catalog model
 * on every routed request.
 */
function routeModels(input: PlanInput, route: RouteConfig): readonly CatalogModel[] {
  const { catalog, policy, kind } = input;
  let byPolicy = routeModelsMemo.get(catalog);
  if (!byPolicy) routeModelsMemo.set(catalog, (byPolicy = new WeakMap()));
  let byRoute = byPolicy.get(policy);
  if (!byRoute) byPolicy.set(policy, (byRoute = new Map()));
  let byKind = byRoute.get(route);
  if (!byKind) byRoute.set(route, (byKind = {}));
  let models = byKind[kind];
  if (!models) {
    models = Object.freeze(
      catalog.models.filter(
        (m) =>
          m.kind === kind && // kindReason's test
          policyReasons(catalog, policy, m, route).length === 0 &&
          minQualityReason(route, qualityScoreOf(policy, m)) === null,
      ),
    );
    byKind[kind] = models;
  }
  return models;
}

const KIND_MISMATCH = /^is an? (embedding|chat) model, the request is/;

/** The exclusions worth reading first: models of the wrong kind are left out, retired ones go last. */
function summarise(excluded: Exclusion[]): string {
  const weight = (e: Exclusion) => (e.reasons.some((r) => r.startsWith('retired')) ? 100 : 0) + e.reasons.length;
  const relevant = excluded
    .filter((e) => !e.reasons.some((r) => KIND_MISMATCH.test(r)))
    .sort((a, b) => weight(a) - weight(b));
  if (relevant.length === 0) return 'The catalog has no model of this kind.';
  const shown = relevant.slice(0, 12).map((e) => `${e.model}: ${e.reasons.join(', ')}`);
  const more = relevant.length > shown.length ? `; and ${relevant.length - shown.length} more` : '';
  return `${shown.join('; ')}${more}`;
}

function planAlias(input: PlanInput, alias: string, route: RouteConfig): RoutePlan {
  const strategy = input.strategyOverride ?? route.strategy;
  const eligible: Candidate[] = [];
  // Models out by price or availability, with their reasons; the ones out by policy or request keep none until the
  // exclusions are read (explain, the no-route error).
  let priced: Map<CatalogModel, Exclusion> | null = null;
  const caps = priceCaps(route);
  let unavailable = 0;
  for (const m of routeModels(input, route)) {
    // staticReasons' tests that depend on the request or the hour (routeModels has the others).
    if (input.catalog.isRetired(m, input.now) || hasCapabilityGap(m, input.needs, input.kind)) continue;
    const c = candidateOf(input, m);
    let reasons = priceReasons(caps, c.prices, c.estCostPico);
    const down = reasons.length === 0 ? input.available(m) : null;
    if (down) {
      reasons = [down];
      unavailable++;
    }
    if (reasons.length === 0) eligible.push(c);
    else (priced ??= new Map()).set(m, { model: m.id, provider: m.provider, reasons });
  }
  // Every model not in the plan, in catalog order.
  const exclusions = () => {
    const chosen = new Set(eligible.map((c) => c.model));
    return input.catalog.models
      .filter((m) => !chosen.has(m))
      .map((m) => priced?.get(m) ?? { model: m.id, provider: m.provider, reasons: staticReasons(input, route, m) });
  };
  if (eligible.length === 0) {
    // Models that the policy allows exist but none is reachable now: a server-side 503 (clients retry), not the caller's fault.
    const [code, what] = unavailable > 0 ? (['service_unavailable', 'right now'] as const) : (['no_route', 'for this request'] as const);
    throw new GatewayError(code, `No model can serve route \`${alias}\` ${what}. ${summarise(exclusions())}`, { param: 'model' });
  }
  return new Plan({ alias, strategy, pinned: false, candidates: ranked(eligible, strategy, input.affinity), route }, exclusions);
}

/** A retired pinned model goes to its successor (followed along the chain) when the policy allows it; else 410. */
function followSuccessor(input: PlanInput, requested: CatalogModel): CatalogModel {
  const { catalog, policy, now } = input;
  let m = requested;
  const seen = new Set<CatalogModel>();
  while (catalog.isRetired(m, now)) {
    seen.add(m);
    const next = m.successor ? catalog.resolve(m.successor) : undefined;
    const usable =
      next !== undefined &&
      !seen.has(next) &&
      kindReason(next, input.kind) === null &&
      policyReasons(catalog, policy, next, null).length === 0;
    if (!policy.follow_successor || !usable) {
      const date = m.shutdown?.toISOString().slice(0, 10) ?? 'an earlier date';
      const succ = m.successor ? ` Its successor is \`${m.successor}\`.` : '';
      throw new GatewayError('model_retired', `The model \`${m.id}\` was shut down on ${date} and is no longer available.${succ}`, {
        param: 'model',
      });
    }
    m = next;
  }
  return m;
}

function planPinned(input: PlanInput, requested: CatalogModel): RoutePlan {
  const { catalog, policy } = input;
  if (policyReasons(catalog, policy, requested, null).length > 0) throw notFound(input.model); // do not reveal the policy
  const kind = kindReason(requested, input.kind);
  if (kind) throw new GatewayError('unsupported_capability', `The model \`${requested.id}\` ${kind}.`, { param: 'model' });
  const m = followSuccessor(input, requested);
  const gap = capabilityGaps(m, input.needs, input.kind)[0];
  if (gap) throw new GatewayError(gap.code, `The model \`${m.id}\` ${gap.reason}.`, { param: gap.param });

  const target = candidateOf(input, m);
  let pool: Candidate[] = [target];
  let strategy: Strategy | null = null;
  if (policy.pinned === 'substitute' && target.quality !== null) {
    // Equivalents: same or better quality, allowed, capable, live, usable; ranked cheapest (the pinned model competes too).
    strategy = 'cheapest';
    pool = catalog.models
      .filter((o) => o === m || isEquivalent(input, o, target.quality ?? 0))
      .map((o) => (o === m ? target : candidateOf(input, o)));
  }
  const live = pool.filter((c) => input.available(c.model) === null);
  if (live.length === 0) {
    throw new GatewayError('provider_not_configured', `The model \`${m.id}\` cannot be used now: ${input.available(m)}.`, {
      param: 'model',
    });
  }
  const candidates = ranked(live, strategy ?? 'cheapest', input.affinity);
  const served = candidates[0].model.id;
  // Read by explain only: not built per request.
  const exclusions = () => {
    const chosen = new Set(candidates.map((c) => c.model));
    return catalog.models
      .filter((o) => !chosen.has(o))
      .map((o) => ({ model: o.id, provider: o.provider, reasons: [exclusionForPinned(input, o, m, requested)] }));
  };
  return new Plan({ alias: null, strategy, pinned: true, candidates, route: null, substitutedFrom: served !== requested.id ? requested.id : undefined }, exclusions);
}

function isEquivalent(input: PlanInput, o: CatalogModel, minQuality: number): boolean {
  const q = qualityOf(input.policy, o).score;
  return (
    q !== null &&
    q >= minQuality &&
    !kindReason(o, input.kind) &&
    !retiredReason(input.catalog, o, input.now) &&
    policyReasons(input.catalog, input.policy, o, null).length === 0 &&
    capabilityGaps(o, input.needs, input.kind).length === 0
  );
}

function exclusionForPinned(input: PlanInput, o: CatalogModel, m: CatalogModel, requested: CatalogModel): string {
  if (o === requested && o !== m) return `${retiredReason(input.catalog, o, input.now) ?? 'retired'}; served by its successor`;
  if (o === m) return input.available(o) ?? 'unavailable';
  if (input.policy.pinned === 'substitute' && isEquivalent(input, o, qualityOf(input.policy, m).score ?? Infinity))
    return input.available(o) ?? 'unavailable';
  return `not requested: the request pins \`${m.id}\``;
}

/** Plan a request: a route alias of the policy is ranked by strategy; a catalog model is pinned. */
export function planRoute(input: PlanInput): RoutePlan {
  // Own keys only: a model named `constructor` is not a route.
  const route = Object.hasOwn(input.policy.routes, input.model) ? input.policy.routes[input.model] : undefined;
  if (route) return planAlias(input, input.model, route);
  const m = input.catalog.resolve(input.model);
  if (!m) throw notFound(input.model);
  return planPinned(input, m);
}
