// Hard constraints of routing, one model at a time: policy lists, capabilities, context, quality, price caps.
import type { CatalogModel } from '../config/catalog.js';
import type { ErrorCode } from '../errors.js';
import { picoToUsd, usdToPico } from '../metering/money.js';
import type { Catalog, UnitPrices } from './catalog.js';
import type { RequestNeeds } from './needs.js';
import type { Policy, RouteConfig } from './policy.js';

export type RequestKind = 'chat' | 'embedding';

/** A capability the model lacks for this request, with the request field to blame (for a pinned model's 400). */
export interface CapabilityGap {
  reason: string;
  param: string;
  code: Extract<ErrorCode, 'unsupported_capability' | 'context_length_exceeded'>;
}

/** A list entry names a model by id, alias or `provider/id`; a trailing `*` matches a prefix of the id. */
export function listNames(catalog: Catalog, list: readonly string[] | undefined, m: CatalogModel): boolean {
  if (!list) return false;
  return list.some((entry) => {
    if (entry.endsWith('*')) {
      const prefix = entry.slice(0, -1);
      return m.id.startsWith(prefix) || `${m.provider}/${m.id}`.startsWith(prefix);
    }
    return entry === m.id || catalog.resolve(entry) === m;
  });
}

const sameJurisdiction = (list: readonly string[] | undefined, j: string) =>
  list?.some((x) => x.toLowerCase() === j.toLowerCase()) ?? false;

// policyReasons per policy, route and model. Policies are immutable (a change is a new tenant object) and a model
// belongs to one catalog, so the answer never goes stale; the weak keys let replaced policies and catalogs go.
const policyMemo = new WeakMap<Policy, Map<RouteConfig | null, WeakMap<CatalogModel, readonly string[]>>>();

/**
 * Tenant-wide allow/deny lists, then (for an alias) the route's own narrowing. Empty = allowed. Asked about every
 * catalog model on every routed request, so each answer is computed once per policy (the list matching resolves names).
 */
export function policyReasons(catalog: Catalog, policy: Policy, m: CatalogModel, route: RouteConfig | null): readonly string[] {
  let byRoute = policyMemo.get(policy);
  if (!byRoute) policyMemo.set(policy, (byRoute = new Map()));
  let byModel = byRoute.get(route);
  if (!byModel) byRoute.set(route, (byModel = new WeakMap()));
  let r = byModel.get(m);
  if (!r) byModel.set(m, (r = Object.freeze(computePolicyReasons(catalog, policy, m, route))));
  return r;
}

function computePolicyReasons(catalog: Catalog, policy: Policy, m: CatalogModel, route: RouteConfig | null): string[] {
  const r: string[] = [];
  const { allow, deny } = policy;
  if (deny.providers?.includes(m.provider)) r.push(`provider ${m.provider} is denied by policy`);
  if (allow.providers && !allow.providers.includes(m.provider)) r.push(`provider ${m.provider} is not in the policy's allowed providers`);
  if (listNames(catalog, deny.models, m)) r.push(`model ${m.id} is denied by policy`);
  if (allow.models && !listNames(catalog, allow.models, m)) r.push(`model ${m.id} is not in the policy's allowed models`);
  if (sameJurisdiction(deny.jurisdictions, m.jurisdiction)) r.push(`jurisdiction ${m.jurisdiction} is denied by policy`);
  if (allow.jurisdictions && !sameJurisdiction(allow.jurisdictions, m.jurisdiction))
    r.push(`jurisdiction ${m.jurisdiction} is not in the policy's allowed jurisdictions`);
  if (route?.providers && !route.providers.includes(m.provider)) r.push(`provider ${m.provider} is not in this route's providers`);
  if (route?.models && !listNames(catalog, route.models, m)) r.push(`model ${m.id} is not in this route's models`);
  return r;
}

export function kindReason(m: CatalogModel, kind: RequestKind): string | null {
  return m.kind === kind ? null : `is ${m.kind === 'embedding' ? 'an embedding' : 'a chat'} model, the request is ${kind === 'chat' ? 'a chat completion' : 'an embedding'}`;
}

export function retiredReason(catalog: Catalog, m: CatalogModel, now: Date): string | null {
  if (!catalog.isRetired(m, now) || !m.shutdown) return null;
  return `retired on ${m.shutdown.toISOString().slice(0, 10)}${m.successor ? ` (successor ${m.successor})` : ''}`;
}

/** What the request needs and the model cannot do. Embeddings are checked per input by the provider, not here. */
export function capabilityGaps(m: CatalogModel, needs: RequestNeeds, kind: RequestKind): CapabilityGap[] {
  if (kind === 'embedding') return [];
  const c = m.capabilities;
  const g: CapabilityGap[] = [];
  const gap = (reason: string, param: string): CapabilityGap => ({ reason, param, code: 'unsupported_capability' });
  if (needs.tools && !c.tools) g.push(gap('does not support tools', 'tools'));
  if (needs.jsonSchema && !c.json_schema) g.push(gap('does not support response_format json_schema', 'response_format'));
  if (needs.vision && !c.vision) g.push(gap('does not accept image inputs', 'messages'));
  if (needs.reasoning && !c.reasoning) g.push(gap('does not support reasoning (reasoning_effort / thinking)', 'reasoning_effort'));
  if (needs.maxOutput !== null && needs.maxOutput > c.max_output)
    g.push(gap(`requested ${needs.maxOutput} output tokens, above its maximum of ${c.max_output}`, needs.maxOutputParam ?? 'max_tokens'));
  // At least one output token must fit after the prompt.
  const out = needs.maxOutput ?? 1;
  if (needs.promptTokens + out > c.context_window)
    g.push({
      reason: `prompt of ${needs.promptTokens} tokens${needs.maxOutput !== null ? ` + ${needs.maxOutput} output tokens` : ''} exceeds its context window of ${c.context_window}`,
      param: 'messages',
      code: 'context_length_exceeded',
    });
  return g;
}

/**
 * Whether capabilityGaps() would name any gap, without building them: the router asks this of every catalog model on
 * every routed request (an array, a closure and the gaps per model otherwise).
 */
export function hasCapabilityGap(m: CatalogModel, needs: RequestNeeds, kind: RequestKind): boolean {
  if (kind === 'embedding') return false;
  const c = m.capabilities;
  return (
    (needs.tools && !c.tools) ||
    (needs.jsonSchema && !c.json_schema) ||
    (needs.vision && !c.vision) ||
    (needs.reasoning && !c.reasoning) ||
    (needs.maxOutput !== null && needs.maxOutput > c.max_output) ||
    needs.promptTokens + (needs.maxOutput ?? 1) > c.context_window
  );
}

export interface EffectiveQuality {
  score: number | null;
  /** `policy override` or the catalog's source; null without a score. */
  source: string | null;
}

export function qualityOf(policy: Policy, m: CatalogModel): EffectiveQuality {
  const o = policy.quality_overrides[m.id];
  if (o !== undefined) return { score: o, source: 'policy override' };
  return m.quality ? { score: m.quality.score, source: m.quality.source } : { score: null, source: null };
}

/** qualityOf(policy, m).score, without the object. */
export function qualityScoreOf(policy: Policy, m: CatalogModel): number | null {
  const o = policy.quality_overrides[m.id];
  if (o !== undefined) return o;
  return m.quality ? m.quality.score : null;
}

export function minQualityReason(route: RouteConfig, q: number | null): string | null {
  if (route.min_quality === undefined) return null;
  if (q === null) return `has no quality score (route requires min_quality ${route.min_quality})`;
  return q < route.min_quality ? `quality ${q} is below min_quality ${route.min_quality}` : null;
}

/** USD per 1M tokens, trailing zeros trimmed, from pico-USD per token. */
export function perMillionUsd(picoPerToken: bigint): string {
  return picoToUsd(picoPerToken * 1_000_000n).replace(/\.?0+$/, '');
}

/** A route's price caps in pico-USD, parsed once per plan rather than once per model. */
export interface PriceCaps {
  inputPerMillion: bigint | null;
  outputPerMillion: bigint | null;
  perRequest: bigint | null;
  route: RouteConfig;
}

export function priceCaps(route: RouteConfig): PriceCaps {
  const parse = (v: string | undefined) => (v === undefined ? null : usdToPico(v));
  return {
    inputPerMillion: parse(route.max_input_price),
    outputPerMillion: parse(route.max_output_price),
    perRequest: parse(route.max_cost_per_request),
    route,
  };
}

/** Price caps (per 1M tokens, at the tariff in force) and the cap on this request's estimated cost. */
export function priceReasons(caps: PriceCaps, prices: UnitPrices, estCostPico: bigint): string[] {
  const r: string[] = [];
  const at = prices.tariff ? ` (${prices.tariff})` : '';
  if (caps.inputPerMillion !== null && prices.input * 1_000_000n > caps.inputPerMillion)
    r.push(`input price $${perMillionUsd(prices.input)}/1M${at} is above max_input_price $${caps.route.max_input_price}`);
  if (caps.outputPerMillion !== null && prices.output * 1_000_000n > caps.outputPerMillion)
    r.push(`output price $${perMillionUsd(prices.output)}/1M${at} is above max_output_price $${caps.route.max_output_price}`);
  if (caps.perRequest !== null && estCostPico > caps.perRequest)
    r.push(`estimated cost $${picoToUsd(estCostPico)} is above max_cost_per_request $${caps.route.max_cost_per_request}`);
  return r;
}
