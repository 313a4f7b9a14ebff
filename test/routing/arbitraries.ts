// fast-check generators of random catalogs, policies and request needs for the router's property tests.
import fc from 'fast-check';
import { catalogSchema, type CatalogModelInput } from '../../src/config/catalog.js';
import { providerNames } from '../../src/providers/types.js';
import { buildCatalog, type Catalog } from '../../src/routing/catalog.js';
import type { RequestNeeds } from '../../src/routing/needs.js';
import { policySchema, strategies, type Policy } from '../../src/routing/policy.js';

export const jurisdictions = ['us', 'cn', 'eu'] as const;
const DAY = 86_400_000;

/** Present about one time in four: each constraint is rare enough that most random worlds still have several candidates. */
export function rarely<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: arb, weight: 1 });
}
const mostlyTrue = fc.oneof({ arbitrary: fc.constant(true), weight: 3 }, { arbitrary: fc.constant(false), weight: 1 });
const seldomTrue = fc.oneof({ arbitrary: fc.constant(false), weight: 4 }, { arbitrary: fc.constant(true), weight: 1 });
const T0 = Date.UTC(2025, 6, 1);
const T1 = Date.UTC(2028, 0, 1);

/** A USD-per-1M price with up to 6 decimals, as the catalog writes it. */
const price = fc.integer({ min: 0, max: 20_000_000 }).map((micro) => (micro / 1e6).toFixed(6));
const hhmm = fc.tuple(fc.integer({ min: 0, max: 23 }), fc.constantFrom(0, 30)).map(([h, m]) => `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`);
const date = fc.integer({ min: T0, max: T1 }).map((t) => new Date(Math.floor(t / 60_000) * 60_000));

const priceRow = fc.record({
  effective_from: fc.integer({ min: T0 - 365 * DAY, max: T1 }).map((t) => new Date(t).toISOString()),
  input: price,
  cached_input: fc.option(price, { nil: undefined }),
  output: price,
  tariffs: fc.array(
    fc.record({
      name: fc.constantFrom('peak', 'night'),
      windows: fc.array(fc.record({ from: hhmm, to: hhmm }), { minLength: 1, maxLength: 2 }),
      weekdays: fc.option(fc.uniqueArray(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 7 }), { nil: undefined }),
      input: price,
      cached_input: fc.option(price, { nil: undefined }),
      output: price,
    }),
    { maxLength: 2 },
  ),
  tiers: fc.array(fc.record({ above_prompt_tokens: fc.integer({ min: 1, max: 150_000 }), input: price, output: price }), { maxLength: 1 }),
});

const model = fc.record({
  provider: fc.constantFrom(...providerNames),
  kind: fc.constantFrom('chat', 'chat', 'chat', 'chat', 'embedding'),
  jurisdiction: fc.constantFrom(...jurisdictions),
  quality: fc.option(fc.integer({ min: 0, max: 600 }).map((x) => ({ score: x / 10, source: 'test' })), { nil: undefined }),
  capabilities: fc.record({
    tools: mostlyTrue,
    json_schema: mostlyTrue,
    vision: mostlyTrue,
    reasoning: mostlyTrue,
    context_window: fc.constantFrom(2_000, 8_000, 128_000, 128_000, 1_000_000, 1_000_000),
    max_output: fc.constantFrom(100, 4_000, 65_536, 65_536, 65_536),
  }),
  shutdown: rarely(date.map((d) => d.toISOString())),
  successor: fc.option(fc.nat(), { nil: undefined }),
  prices: fc.array(priceRow, { minLength: 1, maxLength: 2 }),
});

export const catalogArb: fc.Arbitrary<Catalog> = fc.array(model, { minLength: 3, maxLength: 10 }).map((ms) => {
  const models: CatalogModelInput[] = ms.map((m, i) => ({
    ...m,
    id: `m${i}`,
    successor: m.successor === undefined ? undefined : `m${m.successor % ms.length}`,
  }));
  return buildCatalog(catalogSchema.parse({ models }));
});

const idsArb = fc.uniqueArray(fc.integer({ min: 0, max: 9 }).map((i) => `m${i}`), { minLength: 1, maxLength: 6 });
const usd = fc.integer({ min: 0, max: 50_000_000 }).map((micro) => (micro / 1e6).toFixed(6));
const usdCost = fc.integer({ min: 0, max: 2_000_000 }).map((micro) => (micro / 1e6).toFixed(6));

export const routeArb = fc.record({
  strategy: fc.constantFrom(...strategies),
  min_quality: rarely(fc.integer({ min: 0, max: 60 })),
  max_input_price: rarely(usd),
  max_output_price: rarely(usd),
  max_cost_per_request: rarely(usdCost),
  models: rarely(idsArb),
  providers: rarely(fc.uniqueArray(fc.constantFrom(...providerNames), { minLength: 1, maxLength: 3 })),
});

const listsArb = fc.record({
  providers: rarely(fc.uniqueArray(fc.constantFrom(...providerNames), { minLength: 1, maxLength: 2 })),
  models: rarely(idsArb),
  jurisdictions: rarely(fc.uniqueArray(fc.constantFrom(...jurisdictions), { minLength: 1, maxLength: 2 })),
});

export const policyArb: fc.Arbitrary<Policy> = fc
  .record({
    route: routeArb,
    allow: rarely(listsArb),
    deny: rarely(listsArb),
    pinned: fc.constantFrom('honour', 'substitute'),
    follow_successor: fc.boolean(),
    overrides: fc.dictionary(fc.integer({ min: 0, max: 9 }).map((i) => `m${i}`), fc.integer({ min: 0, max: 60 }), { maxKeys: 3 }),
  })
  .map((p) =>
    policySchema.parse({
      routes: { r: p.route },
      allow: p.allow ?? {},
      deny: p.deny ?? {},
      pinned: p.pinned,
      follow_successor: p.follow_successor,
      quality_overrides: p.overrides,
    }),
  );

export const needsArb: fc.Arbitrary<RequestNeeds> = fc
  .record({
    tools: seldomTrue,
    jsonSchema: seldomTrue,
    vision: seldomTrue,
    reasoning: seldomTrue,
    promptTokens: fc.oneof(
      { arbitrary: fc.integer({ min: 0, max: 3_000 }), weight: 4 },
      { arbitrary: fc.integer({ min: 0, max: 300_000 }), weight: 1 },
    ),
    maxOutput: fc.oneof(
      { arbitrary: fc.constant(null), weight: 2 },
      { arbitrary: fc.integer({ min: 1, max: 5_000 }), weight: 2 },
      { arbitrary: fc.integer({ min: 1, max: 100_000 }), weight: 1 },
    ),
  })
  .map((n) => ({ ...n, maxOutputParam: n.maxOutput === null ? null : ('max_tokens' as const) }));

export const nowArb = date;
