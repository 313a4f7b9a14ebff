// Router examples on the real catalog with an injected clock: tariffs, jurisdictions, retirement, capabilities, errors.
import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../src/api/openai.js';
import { GatewayError } from '../../src/errors.js';
import { needsOf, type RequestNeeds } from '../../src/routing/needs.js';
import type { Policy } from '../../src/routing/policy.js';
import { planRoute, type PlanInput, type RoutePlan } from '../../src/routing/router.js';
import { policy, realCatalog } from './real-catalog.js';

const WED_NOON = new Date('2026-12-02T12:00:00Z'); // off-peak
const WED_2AM = new Date('2026-12-02T02:00:00Z'); // DeepSeek peak (01:00-04:00 UTC, weekdays)
const SAT_2AM = new Date('2026-12-05T02:00:00Z'); // weekend: off-peak all day

const needs = (over: Partial<RequestNeeds> = {}): RequestNeeds => ({
  tools: false,
  jsonSchema: false,
  vision: false,
  reasoning: false,
  promptTokens: 2_000,
  maxOutput: null,
  maxOutputParam: null,
  ...over,
});

function plan(p: Policy, model: string, now: Date, over: Partial<PlanInput> = {}): RoutePlan {
  return planRoute({
    catalog: realCatalog,
    policy: p,
    model,
    needs: needs(),
    now,
    kind: 'chat',
    available: () => null,
    expectedOutputTokens: 500,
    ...over,
  });
}

function failure(f: () => unknown): GatewayError {
  try {
    f();
  } catch (e) {
    if (e instanceof GatewayError) return e;
    throw e;
  }
  throw new Error('expected a GatewayError');
}

const chat = (over: Partial<ChatRequest>): ChatRequest => ({ model: 'x', messages: [{ role: 'user', content: 'hi' }], ...over });

describe('time-of-day tariffs', () => {
  // "The best model under $0.20 per 1M input tokens": DeepSeek Flash qualifies off-peak (0.15) but not at peak (0.30).
  const smart = policy({ routes: { smart: { strategy: 'best_quality', max_input_price: '0.20' } } });

  it('routes to deepseek-flash off-peak', () => {
    const p = plan(smart, 'smart', WED_NOON);
    expect(p.candidates[0].model.id).toBe('deepseek-flash');
    expect(p.candidates[0].prices.tariff).toBeNull();
  });

  it('routes elsewhere at peak, saying why DeepSeek was excluded', () => {
    const p = plan(smart, 'smart', WED_2AM);
    expect(p.candidates[0].model.provider).not.toBe('deepseek');
    expect(p.candidates.some((c) => c.model.provider === 'deepseek')).toBe(false);
    const flash = p.excluded.find((e) => e.model === 'deepseek-flash');
    expect(flash?.reasons.join(' ')).toMatch(/input price \$0\.3\/1M \(peak\) is above max_input_price/);
  });

  it('treats weekends as off-peak all day', () => {
    expect(plan(smart, 'smart', SAT_2AM).candidates[0].model.id).toBe('deepseek-flash');
  });

  it('doubles the estimated cost at peak for the same request', () => {
    const all = policy({ routes: { auto: { strategy: 'cheapest', models: ['deepseek-flash'] } } });
    const off = plan(all, 'auto', WED_NOON).candidates[0].estCostPico;
    const peak = plan(all, 'auto', WED_2AM).candidates[0].estCostPico;
    expect(peak).toBe(off * 2n);
  });
});

describe('jurisdictions', () => {
  const noCn = policy({ deny: { jurisdictions: ['cn'] }, routes: { auto: { strategy: 'cheapest' }, smart: { strategy: 'best_quality' } } });

  it('a tenant denying cn never gets DeepSeek, at any hour, on any route, not even as a fallback', () => {
    for (let h = 0; h < 24; h++) {
      const at = new Date(Date.UTC(2026, 11, 2, h, 30));
      for (const alias of ['auto', 'smart']) {
        const p = plan(noCn, alias, at);
        expect(p.candidates.length).toBeGreaterThan(0);
        for (const c of p.candidates) expect(c.model.jurisdiction).not.toBe('cn');
        expect(p.excluded.find((e) => e.model === 'deepseek-flash')?.reasons).toContain('jurisdiction cn is denied by policy');
      }
    }
  });

  it('an excluded model lists every reason, though routing stops at the first to decide', () => {
    const p = plan(noCn, 'auto', WED_NOON, { needs: needs({ vision: true }) });
    const reasons = p.excluded.find((e) => e.model === 'deepseek-flash')?.reasons;
    expect(reasons).toContain('jurisdiction cn is denied by policy');
    expect(reasons).toContain('does not accept image inputs');
    expect(p.excluded).toBe(p.excluded); // built once, when first read
  });

  it('a pinned DeepSeek model is a 404 for that tenant (the policy is not revealed)', () => {
    const e = failure(() => plan(noCn, 'deepseek-flash', WED_NOON));
    expect(e.status).toBe(404);
    expect(e.code).toBe('model_not_found');
    expect(e.message).toBe('The model `deepseek-flash` does not exist or you do not have access to it.');
  });
});

describe('pinned models', () => {
  const honour = policy({});
  const DEC_15 = new Date('2026-12-15T12:00:00Z'); // gpt-5* shut down on 2026-12-11

  it('honours a model named by id, alias or provider/id', () => {
    expect(plan(honour, 'gpt-4o-mini', WED_NOON).candidates.map((c) => c.model.id)).toEqual(['gpt-4o-mini']);
    expect(plan(honour, 'openai/gpt-4o-mini', WED_NOON).candidates.map((c) => c.model.id)).toEqual(['gpt-4o-mini']);
    const p = plan(honour, 'deepseek-v4-flash', WED_NOON);
    expect(p.candidates.map((c) => c.model.id)).toEqual(['deepseek-flash']);
    expect(p.pinned).toBe(true);
    expect(p.alias).toBeNull();
  });

  it('unknown model: 404 in OpenAI style', () => {
    const e = failure(() => plan(honour, 'gpt-9', WED_NOON));
    expect([e.status, e.code, e.param]).toEqual([404, 'model_not_found', 'model']);
    expect(e.message).toBe('The model `gpt-9` does not exist or you do not have access to it.');
    expect(failure(() => plan(honour, 'constructor', WED_NOON)).status).toBe(404);
  });

  it('a retired model goes to its successor when the policy follows successors', () => {
    const p = plan(honour, 'gpt-5', DEC_15);
    expect(p.candidates[0].model.id).toBe('gpt-5.4');
    expect(p.substitutedFrom).toBe('gpt-5');
    expect(plan(honour, 'deepseek-chat', WED_NOON).candidates[0].model.id).toBe('deepseek-flash');
  });

  it('a retired model is a 410 naming the date and successor when the policy does not follow', () => {
    const e = failure(() => plan(policy({ follow_successor: false }), 'gpt-5', DEC_15));
    expect([e.status, e.code]).toEqual([410, 'model_retired']);
    expect(e.message).toContain('2026-12-11');
    expect(e.message).toContain('`gpt-5.4`');
    // ... and when the successor is not allowed, or there is none.
    expect(failure(() => plan(policy({ deny: { models: ['gpt-5.4'] } }), 'gpt-5', DEC_15)).status).toBe(410);
    const pro = failure(() => plan(honour, 'gemini-2.5-pro', WED_NOON));
    expect(pro.status).toBe(410);
    expect(pro.message).toContain('2026-12-01');
  });

  it('the same model before its shutdown date is served as is', () => {
    expect(plan(honour, 'gpt-5', new Date('2026-12-10T23:59:00Z')).candidates[0].model.id).toBe('gpt-5');
  });

  it('substitutes an equivalent (same or better quality) ranked cheapest when the policy says so', () => {
    const p = plan(policy({ pinned: 'substitute' }), 'gpt-5-mini', WED_NOON);
    expect(p.candidates[0].model.id).toBe('deepseek-flash');
    expect(p.substitutedFrom).toBe('gpt-5-mini');
    const gpt5mini = realCatalog.resolve('gpt-5-mini');
    for (const c of p.candidates) expect(c.quality ?? 0).toBeGreaterThanOrEqual(gpt5mini?.quality?.score ?? Infinity);
    expect(p.candidates.map((c) => c.model.id)).toContain('gpt-5-mini');
  });

  it('a pinned model whose provider is unavailable is a 503 with the reason', () => {
    const e = failure(() =>
      plan(honour, 'deepseek-flash', WED_NOON, {
        available: (m) => (m.provider === 'deepseek' ? 'provider deepseek not configured (DEEPSEEK_API_KEY is not set)' : null),
      }),
    );
    expect([e.status, e.code]).toEqual([503, 'provider_not_configured']);
    expect(e.message).toContain('DEEPSEEK_API_KEY is not set');
  });
});

describe('capabilities of a pinned model (400 saying why)', () => {
  const p = policy({});
  const cases: Array<[string, ChatRequest, number, string, string]> = [
    ['json_schema on deepseek', chat({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: {} } } }), 2_000, 'deepseek-flash', 'response_format'],
    ['images on deepseek', chat({ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AA' } }] }] }), 2_000, 'deepseek-flash', 'messages'],
    ['reasoning on gpt-4o', chat({ reasoning_effort: 'high' }), 2_000, 'gpt-4o', 'reasoning_effort'],
    ['max_tokens above max output', chat({ max_tokens: 70_000 }), 2_000, 'deepseek-flash', 'max_tokens'],
    ['max_completion_tokens above max output', chat({ max_completion_tokens: 20_000 }), 2_000, 'gpt-4o', 'max_completion_tokens'],
  ];
  for (const [name, req, tokens, model, param] of cases) {
    it(name, () => {
      const e = failure(() => plan(p, model, WED_NOON, { needs: needsOf(req, tokens) }));
      expect([e.status, e.code, e.param]).toEqual([400, 'unsupported_capability', param]);
      expect(e.message).toContain(`\`${model}\``);
    });
  }

  it('a prompt beyond the context window is context_length_exceeded on messages', () => {
    const e = failure(() => plan(p, 'deepseek-flash', WED_NOON, { needs: needsOf(chat({ max_tokens: 2_000 }), 127_000) }));
    expect([e.status, e.code, e.param]).toEqual([400, 'context_length_exceeded', 'messages']);
    expect(e.message).toContain('128000');
  });

  it('an embedding model for chat is a 400 on model', () => {
    const e = failure(() => plan(p, 'text-embedding-3-small', WED_NOON));
    expect([e.status, e.param]).toEqual([400, 'model']);
  });

  it('an alias routes a vision + json_schema request away from DeepSeek instead of failing', () => {
    const r = plan(policy({ routes: { auto: { strategy: 'best_quality' } } }), 'auto', WED_NOON, {
      needs: needs({ vision: true, jsonSchema: true }),
    });
    expect(r.candidates[0].model.id).toBe('gpt-5');
    for (const c of r.candidates) expect(c.model.capabilities.vision && c.model.capabilities.json_schema).toBe(true);
  });
});

describe('route aliases', () => {
  it('no eligible candidate is a 422 no_route summarising the reasons', () => {
    const p = policy({ routes: { auto: { strategy: 'cheapest', min_quality: 60 } } });
    const e = failure(() => plan(p, 'auto', WED_NOON));
    expect([e.status, e.code, e.param]).toEqual([422, 'no_route', 'model']);
    expect(e.message).toContain('deepseek-v4-pro: quality 53.2 is below min_quality 60');
    expect(e.message).not.toContain('text-embedding'); // models of another kind are noise here
  });

  it('an unavailable provider is excluded with its reason and the next candidate leads', () => {
    const p = policy({ routes: { auto: { strategy: 'best_quality' } } });
    const r = plan(p, 'auto', WED_NOON, { available: (m) => (m.provider === 'deepseek' ? 'circuit open' : null) });
    expect(r.candidates[0].model.id).toBe('gpt-5');
    expect(r.excluded.find((e) => e.model === 'deepseek-v4-pro')?.reasons).toEqual(['circuit open']);
  });

  it('when every allowed model is merely unavailable, the alias is a 503 (retryable), not a 422', () => {
    const p = policy({ routes: { auto: { strategy: 'cheapest', providers: ['deepseek'] } } });
    const e = failure(() => plan(p, 'auto', WED_NOON, { available: (m) => (m.provider === 'deepseek' ? 'provider deepseek not configured (DEEPSEEK_API_KEY is not set)' : null) }));
    expect([e.status, e.code]).toEqual([503, 'service_unavailable']);
    expect(e.message).toContain('deepseek-flash: provider deepseek not configured (DEEPSEEK_API_KEY is not set)');
  });

  it('a budget downgrade overrides the route strategy', () => {
    const p = policy({ routes: { auto: { strategy: 'best_quality' } } });
    const normal = plan(p, 'auto', WED_NOON);
    const down = plan(p, 'auto', WED_NOON, { strategyOverride: 'cheapest' });
    expect(normal.strategy).toBe('best_quality');
    expect(down.strategy).toBe('cheapest');
    const costs = down.candidates.map((c) => c.estCostPico);
    expect(costs.every((c) => c >= costs[0])).toBe(true);
    expect(down.candidates[0].model.id).not.toBe(normal.candidates[0].model.id);
  });

  it('max_cost_per_request is checked against the estimated cost at this hour', () => {
    // deepseek-v4-pro, 2000 prompt + 500 output: off-peak 0.00132 + 0.00099 = $0.00231; peak twice that.
    const p = policy({ routes: { pro: { strategy: 'best_quality', models: ['deepseek-v4-pro'], max_cost_per_request: '0.003' } } });
    expect(plan(p, 'pro', WED_NOON).candidates[0].model.id).toBe('deepseek-v4-pro');
    expect(failure(() => plan(p, 'pro', WED_2AM)).code).toBe('no_route');
  });
});

describe('cache affinity', () => {
  // Off-peak, deepseek-flash and gpt-4o-mini cost exactly the same per token (0.15 / 0.60): a tie on cost.
  const tie = policy({ routes: { auto: { strategy: 'cheapest', models: ['deepseek-flash', 'gpt-4o-mini'] } } });

  it('breaks an equal-standing tie toward the hinted model', () => {
    const plain = plan(tie, 'auto', WED_NOON);
    expect(plain.candidates[0].model.id).toBe('deepseek-flash'); // tie → higher quality
    const hinted = plan(tie, 'auto', WED_NOON, { affinity: { model: 'gpt-4o-mini', cachedShare: 0 } });
    expect(hinted.candidates.map((c) => c.model.id)).toEqual(['gpt-4o-mini', 'deepseek-flash']);
  });

  it('does not override a clearly cheaper model for a cold hint', () => {
    const p = policy({ routes: { auto: { strategy: 'cheapest', models: ['gpt-5-nano', 'gemini-2.5-flash-lite'] } } });
    const big = needs({ promptTokens: 10_000, maxOutput: 100 });
    expect(plan(p, 'auto', WED_NOON, { needs: big, affinity: { model: 'gemini-2.5-flash-lite', cachedShare: 0 } }).candidates[0].model.id).toBe('gpt-5-nano');
  });

  it('lets a warm prompt cache win on real price', () => {
    const p = policy({ routes: { auto: { strategy: 'cheapest', models: ['gpt-5-nano', 'gemini-2.5-flash-lite'] } } });
    const big = needs({ promptTokens: 10_000, maxOutput: 100 });
    // lite with 90% cached: 1000×0.10 + 9000×0.01 + 100×0.40 = $0.00023 < nano cold: 10000×0.05 + 100×0.40 = $0.00054
    const r = plan(p, 'auto', WED_NOON, { needs: big, affinity: { model: 'gemini-2.5-flash-lite', cachedShare: 0.9 } });
    expect(r.candidates[0].model.id).toBe('gemini-2.5-flash-lite');
    expect(r.candidates[0].estCostPico).toBe(230_000_000n);
    expect(r.candidates[1].estCostPico).toBe(540_000_000n);
  });
});
