// What the router reads off a chat request.
import { describe, expect, it } from 'vitest';
import { chatRequestSchema } from '../../src/api/openai.js';
import { needsOf } from '../../src/routing/needs.js';

const parse = (body: Record<string, unknown>) => chatRequestSchema.parse({ model: 'auto', messages: [{ role: 'user', content: 'hi' }], ...body });

describe('needsOf', () => {
  it('a plain request needs nothing special', () => {
    expect(needsOf(parse({}), 12)).toEqual({
      tools: false,
      jsonSchema: false,
      vision: false,
      reasoning: false,
      promptTokens: 12,
      maxOutput: null,
      maxOutputParam: null,
    });
  });

  it('reads tools, json_schema, images and reasoning', () => {
    const n = needsOf(
      parse({
        tools: [{ type: 'function', function: { name: 'f' } }],
        response_format: { type: 'json_schema', json_schema: { name: 's', schema: {} } },
        messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AA' } }] }],
        reasoning_effort: 'low',
      }),
      100,
    );
    expect([n.tools, n.jsonSchema, n.vision, n.reasoning]).toEqual([true, true, true, true]);
  });

  it('json_object, empty tools and reasoning_effort none need nothing; DeepSeek thinking enabled needs reasoning', () => {
    const n = needsOf(parse({ response_format: { type: 'json_object' }, tools: [], reasoning_effort: 'none' }), 1);
    expect([n.tools, n.jsonSchema, n.reasoning]).toEqual([false, false, false]);
    expect(needsOf(parse({ thinking: { type: 'enabled' } }), 1).reasoning).toBe(true);
    expect(needsOf(parse({ thinking: { type: 'disabled' } }), 1).reasoning).toBe(false);
  });

  it('max_completion_tokens wins over max_tokens, and names its field', () => {
    expect(needsOf(parse({ max_tokens: 100, max_completion_tokens: 200 }), 1)).toMatchObject({ maxOutput: 200, maxOutputParam: 'max_completion_tokens' });
    expect(needsOf(parse({ max_tokens: 100 }), 1)).toMatchObject({ maxOutput: 100, maxOutputParam: 'max_tokens' });
  });
});
