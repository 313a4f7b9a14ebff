// Property tests of the router over random catalogs, policies and requests: hard constraints, ordering, partition.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CatalogModel } from '../../src/config/catalog.js';
import { GatewayError } from '../../src/errors.js';
import { usdToPico } from '../../src/metering/money.js';
import type { Catalog } from '../../src/routing/catalog.js';
import type { RequestNeeds } from '../../src/routing/needs.js';
import type { Policy, RouteConfig } from '../../src/routing/policy.js';
import { planRoute, type RoutePlan } from '../../src/routing/router.js';
import { catalogArb, needsArb, nowArb, policyArb } from './arbitraries.js';

interface World {
  catalog: Catalog;
  policy: Policy;
  needs: RequestNeeds;
  now: Date;
  kind: 'chat' | 'embedding';
  down: Set<string>;
  eot: number;
  affinity: { model: string; cachedShare: number } | null;
}

const worldArb = fc
  .record({
    catalog: catalogArb,
    policy: policyArb,
    needs: needsArb,
    now: nowArb,
    kind: fc.constantFrom('chat', 'chat', 'embedding'),
    down: fc.uniqueArray(fc.integer({ min: 0, max: 9 }).map((i) => `m${i}`), { maxLength: 3 }),
    eot: fc.integer({ min: 1, max: 5_000 }),
  })
  .map((w): World => ({ ...w, down: new Set(w.down), affinity: null }));

const qualityOf = (w: World, m: CatalogModel): number | null => w.policy.quality_overrides[m.id] ?? m.quality?.score ?? null;

/** This request's estimated cost, computed here from the price row (not by the router). */
function expectedCost(w: World, m: CatalogModel): bigint {
  const p = w.catalog.priceAt(m, w.now, w.needs.promptTokens);
  const out = w.kind === 'embedding' ? 0 : w.needs.maxOutput === null ? w.eot : Math.min(w.needs.maxOutput, w.eot);
  const share = w.affinity?.model === m.id ? w.affinity.cachedShare : 0;
  const cached = BigInt(Math.floor(w.needs.promptTokens * share));
  return (BigInt(w.needs.promptTokens) - cached) * p.input + cached * p.cachedInput + BigInt(out) * p.output;
}

/** Tenant-wide lists: the generated policies name models by id only. */
function tenantViolations(w: World, m: CatalogModel): string[] {
  const v: string[] = [];
  const { allow, deny } = w.policy;
  if (m.kind !== w.kind) v.push('kind');
  if (m.shutdown && w.now.getTime() >= m.shutdown.getTime()) v.push('retired');
  if (deny.providers?.includes(m.provider)) v.push('deny provider');
  if (allow.providers && !allow.providers.includes(m.provider)) v.push('allow provider');
  if (deny.models?.includes(m.id)) v.push('deny model');
  if (allow.models && !allow.models.includes(m.id)) v.push('allow model');
  if (deny.jurisdictions?.includes(m.jurisdiction)) v.push('deny jurisdiction');
  if (allow.jurisdictions && !allow.jurisdictions.includes(m.jurisdiction)) v.push('allow jurisdiction');
  if (w.kind === 'chat' && m.kind === 'chat') {
    const c = m.capabilities;
    const n = w.needs;
    if ((n.tools && !c.tools) || (n.jsonSchema && !c.json_schema) || (n.vision && !c.vision) || (n.reasoning && !c.reasoning))
      v.push('capability');
    if (n.maxOutput !== null && n.maxOutput > c.max_output) v.push('max output');
    if (n.promptTokens + (n.maxOutput ?? 1) > c.context_window) v.push('context window');
  }
  if (w.down.has(m.id)) v.push('unavailable');
  return v;
}

function routeViolations(w: World, route: RouteConfig, m: CatalogModel): string[] {
  const v = tenantViolations(w, m);
  if (route.providers && !route.providers.includes(m.provider)) v.push('route provider');
  if (route.models && !route.models.includes(m.id)) v.push('route model');
  const q = qualityOf(w, m);
  if (route.min_quality !== undefined && (q === null || q < route.min_quality)) v.push('min quality');
  const p = w.catalog.priceAt(m, w.now, w.needs.promptTokens);
  if (route.max_input_price !== undefined && p.input * 1_000_000n > usdToPico(route.max_input_price)) v.push('input cap');
  if (route.max_output_price !== undefined && p.output * 1_000_000n > usdToPico(route.max_output_price)) v.push('output cap');
  if (route.max_cost_per_request !== undefined && expectedCost(w, m) > usdToPico(route.max_cost_per_request)) v.push('cost cap');
  return v;
}

function plan(w: World, model: string): RoutePlan {
  return planRoute({
    catalog: w.catalog,
    policy: w.policy,
    model,
    needs: w.needs,
    now: w.now,
    kind: w.kind,
    available: (m) => (w.down.has(m.id) ? 'circuit open' : null),
    expectedOutputTokens: w.eot,
    affinity: w.affinity,
  });
}

function expectPartition(w: World, p: RoutePlan) {
  const kept = p.candidates.map((c) => c.model.id);
  const out = p.excluded.map((e) => e.model);
  expect(new Set([...kept, ...out]).size).toBe(kept.length + out.length);
  expect([...kept, ...out].sort()).toEqual(w.catalog.models.map((m) => m.id).sort());
  // The exclusions in catalog order (explain and the no-route error list them so).
  expect(out).toEqual(w.catalog.models.map((m) => m.id).filter((id) => out.includes(id)));
  expect(p.candidates.map((c) => c.rank)).toEqual(kept.map((_, i) => i + 1));
}

const cmpValue = (qa: number | null, ca: bigint, qb: number | null, cb: bigint) => {
  const a = BigInt(Math.round((qa ?? 0) * 1e6)) * cb;
  const b = BigInt(Math.round((qb ?? 0) * 1e6)) * ca;
  return a === b ? 0 : a > b ? 1 : -1; // 1: a has the higher value
};

describe('planRoute on a route alias (random catalogs, policies, requests)', () => {
  it('keeps exactly the models that meet every hard constraint, orders them by strategy, and partitions the catalog', () => {
    fc.assert(
      fc.property(worldArb, (w) => {
        const route = w.policy.routes.r;
        const eligible = w.catalog.models.filter((m) => routeViolations(w, route, m).length === 0);
        let p: RoutePlan;
        try {
          p = plan(w, 'r');
        } catch (e) {
          expect(e).toBeInstanceOf(GatewayError);
          expect(eligible).toEqual([]);
          // Allowed and capable but all down: 503; nothing allowed at all: 422.
          const blockedByHealth = w.catalog.models.some((m) => routeViolations(w, route, m).join() === 'unavailable');
          expect([(e as GatewayError).code, (e as GatewayError).status]).toEqual(blockedByHealth ? ['service_unavailable', 503] : ['no_route', 422]);
          return;
        }
        expectPartition(w, p);
        // Two-sided: every candidate (chosen or fallback) is clean, every exclusion has a real cause.
        expect(p.candidates.map((c) => c.model.id).sort()).toEqual(eligible.map((m) => m.id).sort());
        for (const e of p.excluded) expect(e.reasons.length).toBeGreaterThan(0);
        for (const c of p.candidates) expect(c.estCostPico).toBe(expectedCost(w, c.model));
        const cs = p.candidates;
        for (let i = 1; i < cs.length; i++) {
          const [a, b] = [cs[i - 1], cs[i]];
          if (route.strategy === 'cheapest') expect(a.estCostPico <= b.estCostPico).toBe(true);
          if (route.strategy === 'best_quality') expect(a.quality === null ? b.quality === null : b.quality === null || a.quality >= b.quality).toBe(true);
          if (route.strategy === 'best_value') expect(cmpValue(a.quality, a.estCostPico, b.quality, b.estCostPico)).toBeGreaterThanOrEqual(0);
        }
        // The chosen one is never beaten by any eligible model on the strategy's key.
        const top = cs[0];
        for (const c of cs) {
          if (route.strategy === 'cheapest') expect(top.estCostPico <= c.estCostPico).toBe(true);
          if (route.strategy === 'best_quality' && c.quality !== null) expect(top.quality !== null && top.quality >= c.quality).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('with a cache-affinity hint, still never breaks a constraint and only lets the hinted model lead within 2%', () => {
    const withHint = worldArb.chain((w) =>
      fc
        .record({ i: fc.nat({ max: w.catalog.models.length - 1 }), share: fc.double({ min: 0, max: 1, noNaN: true }) })
        .map(({ i, share }): World => ({ ...w, affinity: { model: w.catalog.models[i].id, cachedShare: share } })),
    );
    fc.assert(
      fc.property(withHint, (w) => {
        const route = w.policy.routes.r;
        let p: RoutePlan;
        try {
          p = plan(w, 'r');
        } catch {
          expect(w.catalog.models.every((m) => routeViolations(w, route, m).length > 0)).toBe(true);
          return;
        }
        expectPartition(w, p);
        for (const c of p.candidates) expect(routeViolations(w, route, c.model)).toEqual([]);
        for (const c of p.candidates) expect(c.estCostPico).toBe(expectedCost(w, c.model));
        const top = p.candidates[0];
        if (route.strategy === 'cheapest') {
          for (const c of p.candidates) {
            if (top.model.id === w.affinity?.model) expect(top.estCostPico * 1000n <= c.estCostPico * 1020n).toBe(true);
            else expect(top.estCostPico <= c.estCostPico).toBe(true);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('planRoute on a pinned model (random catalogs and policies)', () => {
  it('serves the pinned model (or its successor / an equivalent) only within policy, or fails with the right error', () => {
    const pinnedWorld = worldArb.chain((w) => fc.nat({ max: w.catalog.models.length - 1 }).map((i) => ({ w, id: w.catalog.models[i].id })));
    fc.assert(
      fc.property(pinnedWorld, ({ w, id }) => {
        let p: RoutePlan;
        try {
          p = plan(w, id);
        } catch (e) {
          expect(e).toBeInstanceOf(GatewayError);
          const code = (e as GatewayError).code;
          expect(['model_not_found', 'model_retired', 'unsupported_capability', 'context_length_exceeded', 'provider_not_configured']).toContain(code);
          return;
        }
        expectPartition(w, p);
        expect(p.pinned).toBe(true);
        const requested = w.catalog.resolve(id);
        if (!requested) throw new Error('generated id must resolve');
        for (const c of p.candidates) expect(tenantViolations(w, c.model)).toEqual([]);
        if (w.policy.pinned === 'honour') {
          expect(p.candidates).toHaveLength(1);
          if (p.candidates[0].model !== requested) {
            expect(w.policy.follow_successor).toBe(true);
            expect(p.substitutedFrom).toBe(id);
          }
        } else {
          for (let i = 1; i < p.candidates.length; i++) expect(p.candidates[i - 1].estCostPico <= p.candidates[i].estCostPico).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });
});
