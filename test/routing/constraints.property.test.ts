// The router's allocation-free checks agree with the functions that name the reasons (src/routing/constraints.ts).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CatalogModel } from '../../src/config/catalog.js';
import { capabilityGaps, hasCapabilityGap, qualityOf, qualityScoreOf } from '../../src/routing/constraints.js';
import type { Policy } from '../../src/routing/policy.js';
import { needsArb } from './arbitraries.js';

const capabilitiesArb = fc.record({
  tools: fc.boolean(),
  json_schema: fc.boolean(),
  vision: fc.boolean(),
  reasoning: fc.boolean(),
  max_output: fc.integer({ min: 1, max: 100_000 }),
  context_window: fc.integer({ min: 1, max: 400_000 }),
});
const model = (capabilities: unknown, quality?: { score: number; source: string }) => ({ id: 'm', capabilities, quality }) as unknown as CatalogModel;

describe('hasCapabilityGap', () => {
  it('is true exactly when capabilityGaps names a gap', () => {
    fc.assert(
      fc.property(capabilitiesArb, needsArb, fc.constantFrom('chat' as const, 'embedding' as const), (caps, needs, kind) => {
        const m = model(caps);
        expect(hasCapabilityGap(m, needs, kind)).toBe(capabilityGaps(m, needs, kind).length > 0);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('qualityScoreOf', () => {
  it("is qualityOf's score", () => {
    fc.assert(
      fc.property(fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }), fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: undefined }), (catalogScore, override) => {
        const m = model({}, catalogScore === undefined ? undefined : { score: catalogScore, source: 'test' });
        const policy = { quality_overrides: override === undefined ? {} : { m: override } } as unknown as Policy;
        expect(qualityScoreOf(policy, m)).toBe(qualityOf(policy, m).score);
      }),
    );
  });
});
