// The request path estimates prompt tokens instead of running the tokenizer whenever the exact count cannot change a
// decision: these properties check that routing (capability and context-window gaps) and prices come out the same.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chatRequestSchema, type ChatRequest } from '../../src/api/openai.js';
import { countPromptTokens, estimatePromptTokens } from '../../src/metering/tokens.js';
import { capabilityGaps } from '../../src/routing/constraints.js';
import { needsOf } from '../../src/routing/needs.js';
import { catalogArb, nowArb } from './arbitraries.js';
import { realCatalog } from './real-catalog.js';

// Text of every width: ASCII words, accented Latin, CJK, emoji (1 to 4 UTF-8 bytes a character), sometimes repeated long.
const piece = fc.constantFrom('hello ', 'world. ', 'déjà vu ', '東京の天気は', '🙂🚀', 'x', '{"a":1} ', '\n', 'function f() { return 1; } ');
const text = fc
  .tuple(fc.array(piece, { maxLength: 40 }), fc.integer({ min: 1, max: 300 }))
  .map(([parts, times]) => parts.join('').repeat(parts.length > 0 && times > 250 ? times : 1));
const message = fc.oneof(
  fc.record({ role: fc.constantFrom('system', 'user', 'assistant'), content: text }),
  fc.record({
    role: fc.constant('user'),
    content: fc.array(fc.oneof(fc.record({ type: fc.constant('text'), text }), fc.constant({ type: 'image_url', image_url: { url: 'data:image/png;base64,AA' } })), { minLength: 1, maxLength: 3 }),
  }),
  fc.record({
    role: fc.constant('assistant'),
    content: fc.constant(null),
    tool_calls: fc.array(fc.record({ id: fc.constant('call_1'), type: fc.constant('function'), function: fc.record({ name: fc.constantFrom('lookup', 'f'), arguments: text }) }), { minLength: 1, maxLength: 2 }),
  }),
);
const request: fc.Arbitrary<ChatRequest> = fc
  .record({
    messages: fc.array(message, { minLength: 1, maxLength: 6 }),
    max_tokens: fc.option(fc.integer({ min: 1, max: 10_000 }), { nil: undefined }),
    tools: fc.option(fc.constant([{ type: 'function', function: { name: 'lookup', description: 'Looks a thing up.', parameters: { type: 'object' } } }]), { nil: undefined }),
  })
  .map((r) => chatRequestSchema.parse({ model: 'auto', ...r }));

const gapCodes = (gaps: ReturnType<typeof capabilityGaps>) => gaps.map((g) => `${g.code}:${g.param}`);

describe('estimatePromptTokens', () => {
  it('changes no routing gap and no price against the exact count, on random catalogs with small windows and tiers', () => {
    fc.assert(
      fc.property(catalogArb, request, nowArb, (catalog, req, now) => {
        const estimate = estimatePromptTokens(req, catalog.exactCountFrom);
        const exact = countPromptTokens(req);
        for (const m of catalog.models) {
          if (m.kind !== 'chat') continue;
          expect(gapCodes(capabilityGaps(m, needsOf(req, estimate), 'chat'))).toEqual(gapCodes(capabilityGaps(m, needsOf(req, exact), 'chat')));
          expect(catalog.priceAt(m, now, estimate).version).toBe(catalog.priceAt(m, now, exact).version);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('is the exact count once a prompt could come near a context window or a price tier', () => {
    const big = chatRequestSchema.parse({ model: 'auto', messages: [{ role: 'user', content: '東京の天気は '.repeat(2000) }], max_tokens: 100 });
    expect(estimatePromptTokens(big, 8_000)).toBe(countPromptTokens(big));
    expect(estimatePromptTokens(big, realCatalog.exactCountFrom)).not.toBe(countPromptTokens(big));
  });

  it('stays near the exact count for ordinary English', () => {
    const req = chatRequestSchema.parse({ model: 'auto', messages: [{ role: 'system', content: 'You are a helpful assistant that answers briefly.' }, { role: 'user', content: 'What is the capital of France, and why is it famous?' }] });
    const estimate = estimatePromptTokens(req, realCatalog.exactCountFrom);
    const exact = countPromptTokens(req);
    expect(Math.abs(estimate - exact) / exact).toBeLessThan(0.35);
  });

  it('the real catalog lets ordinary prompts skip the tokenizer (smallest chat window, first tier)', () => {
    const windows = realCatalog.models.filter((m) => m.kind === 'chat').map((m) => m.capabilities.context_window);
    expect(realCatalog.exactCountFrom).toBe(Math.min(...windows, ...realCatalog.models.flatMap((m) => m.prices.flatMap((p) => p.tiers.map((t) => t.above_prompt_tokens + 1)))));
    expect(realCatalog.exactCountFrom).toBeGreaterThan(100_000);
  });
});
