// The response cache key and the per-request cache plan: what makes two requests the same, tenant scope, header rules.
import { describe, expect, it } from 'vitest';
import { chatRequestSchema, type ChatRequest } from '../../src/api/openai.js';
import { isNondeterministic, responseCacheKey } from '../../src/cache/key.js';
import { parseCacheDirective, planCache } from '../../src/cache/gate.js';
import { policySchema } from '../../src/routing/policy.js';

const req = (over: Record<string, unknown> = {}): ChatRequest =>
  chatRequestSchema.parse({ model: 'auto', messages: [{ role: 'user', content: 'What is 2 + 2?' }], temperature: 0, ...over });
const key = (over: Record<string, unknown> = {}, tenant = 'ten_a') => responseCacheKey(tenant, req(over));

describe('responseCacheKey', () => {
  it('is scoped by tenant, with a Redis Cluster hash tag', () => {
    expect(key()).toMatch(/^tg:rc:\{t:ten_a\}:[A-Za-z0-9_-]{43}$/);
    expect(key({}, 'ten_b')).not.toBe(key());
  });

  it('ignores transport and attribution fields', () => {
    const base = key();
    for (const over of [
      { stream: true },
      { stream: true, stream_options: { include_usage: true } },
      { user: 'u-1' },
      { metadata: { a: 'b' } },
      { safety_identifier: 'x' },
      { prompt_cache_key: 'k' },
      { seed: null },
    ])
      expect(key(over), JSON.stringify(over)).toBe(base);
  });

  it('does not depend on key order, and treats max_tokens and max_completion_tokens as one cap', () => {
    const a = responseCacheKey('t', chatRequestSchema.parse({ temperature: 0, messages: [{ content: 'hi', role: 'user' }], model: 'm' }));
    const b = responseCacheKey('t', chatRequestSchema.parse({ model: 'm', messages: [{ role: 'user', content: 'hi' }], temperature: 0 }));
    expect(a).toBe(b);
    expect(key({ max_tokens: 50 })).toBe(key({ max_completion_tokens: 50 }));
    expect(key({ n: 1 })).toBe(key());
    expect(key({ messages: [{ role: 'user', content: [{ type: 'text', text: 'What is 2 + 2?' }] }] })).toBe(key());
  });

  it('changes with anything that can change the answer', () => {
    const base = key();
    const variants = [
      { model: 'gpt-4o-mini' },
      { messages: [{ role: 'user', content: 'What is 2 + 3?' }] },
      { messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'What is 2 + 2?' }] },
      { temperature: 0.5 },
      { top_p: 0.9 },
      { seed: 1 },
      { n: 2 },
      { stop: ['\n'] },
      { max_tokens: 10 },
      { presence_penalty: 1 },
      { frequency_penalty: 1 },
      { reasoning_effort: 'high' },
      { response_format: { type: 'json_object' } },
      { tools: [{ type: 'function', function: { name: 'f', parameters: {} } }] },
      { tool_choice: 'none' },
      { logprobs: true },
      { some_new_field: 1 },
    ];
    const keys = variants.map((v) => key(v));
    for (const [i, k] of keys.entries()) expect(k, JSON.stringify(variants[i])).not.toBe(base);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('cache plan', () => {
  const on = policySchema.parse({ cache: { enabled: true, ttl_seconds: 120 } });
  const nondet = policySchema.parse({ cache: { enabled: true, nondeterministic: true } });

  it('is off unless the tenant enabled it', () => {
    expect(planCache(policySchema.parse({}), 'ten', req(), null).mode).toBe('off');
    expect(planCache(on, 'ten', req(), null)).toMatchObject({ mode: 'use', ttlS: 120, maxAgeS: null, key: responseCacheKey('ten', req()) });
  });

  it('bypasses on no-store and honours max-age', () => {
    expect(planCache(on, 'ten', req(), 'no-store').mode).toBe('bypass');
    expect(planCache(on, 'ten', req(), 'max-age=30')).toMatchObject({ mode: 'use', maxAgeS: 30 });
    expect(parseCacheDirective(' Max-Age = 5 , foo')).toEqual({ noStore: false, maxAgeS: 5 });
    expect(parseCacheDirective('max-age=-1')).toEqual({ noStore: false, maxAgeS: null });
  });

  it('caches sampling without a seed only when the tenant says so', () => {
    const sampled = req({ temperature: 0.7 });
    const unset = req({ temperature: undefined });
    expect(isNondeterministic(sampled)).toBe(true);
    expect(isNondeterministic(unset)).toBe(true);
    expect(isNondeterministic(req({ temperature: 0.7, seed: 3 }))).toBe(false);
    expect(planCache(on, 'ten', sampled, null).mode).toBe('bypass');
    expect(planCache(on, 'ten', unset, null).mode).toBe('bypass');
    expect(planCache(on, 'ten', req({ temperature: 0.7, seed: 3 }), null).mode).toBe('use');
    expect(planCache(nondet, 'ten', sampled, null).mode).toBe('use');
  });
});
