// POST /v1/route/explain body: ranking and costs asserted against prices read from models.yaml by the test itself.
import { describe, expect, it } from 'vitest';
import { explainRoute } from '../../src/routing/explain.js';
import type { RequestNeeds } from '../../src/routing/needs.js';
import { planRoute } from '../../src/routing/router.js';
import { isLiveChat, policy, rawModels, rawPrices, realCatalog, usdString } from './real-catalog.js';

const needs: RequestNeeds = {
  tools: false,
  jsonSchema: false,
  vision: false,
  reasoning: false,
  promptTokens: 1_200,
  maxOutput: 300,
  maxOutputParam: 'max_tokens',
};

/** Expected output = min(requested max, expected output tokens) = 300 here (the tenant averages 800). */
const OUT = 300n;

function expectedRanking(at: Date) {
  return rawModels
    .filter((m) => isLiveChat(m.id, at))
    .map((m) => {
      const p = rawPrices(m.id, at);
      return { id: m.id, cost: 1_200n * p.input + OUT * p.output, quality: m.quality?.score ?? -1, tariff: p.tariff, maxCost: 1_200n * p.input + OUT * p.output };
    })
    .sort((a, b) => (a.cost !== b.cost ? (a.cost < b.cost ? -1 : 1) : b.quality - a.quality || (a.id < b.id ? -1 : 1)));
}

describe('explainRoute', () => {
  const cheapest = policy({ routes: { auto: { strategy: 'cheapest' } } });
  for (const at of [new Date('2026-12-02T12:00:00Z'), new Date('2026-12-02T02:00:00Z')]) {
    it(`ranks by the independently computed cost at ${at.toISOString()}`, () => {
      const plan = planRoute({ catalog: realCatalog, policy: cheapest, model: 'auto', needs, now: at, kind: 'chat', available: () => null, expectedOutputTokens: 800 });
      const body = explainRoute(plan);
      const want = expectedRanking(at);
      expect(body.alias).toBe('auto');
      expect(body.strategy).toBe('cheapest');
      expect(body.candidates.map((c) => c.model)).toEqual(want.map((w) => w.id));
      expect(body.candidates.map((c) => c.estimated_cost_usd)).toEqual(want.map((w) => usdString(w.cost)));
      // max cost: the request set max_tokens, so the reserve is for exactly 300 output tokens.
      expect(body.candidates.map((c) => c.max_cost_usd)).toEqual(want.map((w) => usdString(w.maxCost)));
      expect(body.candidates.map((c) => c.rank)).toEqual(want.map((_, i) => i + 1));
      expect(body.candidates.map((c) => c.tariff)).toEqual(want.map((w) => w.tariff));
      const flash = body.candidates.find((c) => c.model === 'deepseek-flash');
      expect(flash?.quality_source).toContain('AA index');
      expect(flash?.price_version).toMatch(/^deepseek-flash@2026-09-10T00:00:00.000Z/);
      // Every model not ranked is listed with a reason.
      const excluded = body.excluded.map((e) => e.model).sort();
      expect(excluded).toEqual(rawModels.map((m) => m.id).filter((id) => !want.some((w) => w.id === id)).sort());
      for (const e of body.excluded) expect(e.reasons.length).toBeGreaterThan(0);
      expect(body.excluded.find((e) => e.model === 'gemini-2.5-pro')?.reasons[0]).toMatch(/^retired on 2026-12-01/);
      expect(JSON.parse(JSON.stringify(body))).toEqual(body); // plain JSON, no BigInt
    });
  }

  it('shows prices per 1M tokens at the tariff in force and the quality override source', () => {
    const p = policy({ routes: { auto: { strategy: 'best_quality', models: ['deepseek-flash'] } }, quality_overrides: { 'deepseek-flash': 40 } });
    const plan = planRoute({ catalog: realCatalog, policy: p, model: 'auto', needs, now: new Date('2026-12-02T02:00:00Z'), kind: 'chat', available: () => null, expectedOutputTokens: 800 });
    const [c] = explainRoute(plan).candidates;
    expect(c.prices).toEqual({ input: '0.3', cached_input: '0.006', output: '1.2' });
    expect([c.quality, c.quality_source, c.tariff]).toEqual([40, 'policy override', 'peak']);
  });
});
