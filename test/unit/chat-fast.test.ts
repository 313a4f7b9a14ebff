// The chat body's fast path (src/api/chat-fast.ts) against the schema it stands in for: whatever it vouches for, zod
// accepts and returns unchanged; the common bodies take it; anything else is left to zod (and its error wording).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chatRequestFast } from '../../src/api/chat-fast.js';
import { chatRequestSchema } from '../../src/api/openai.js';

/** Numbers at and around every bound the schema has, plus arbitrary ones. */
const edgeNumber = fc.oneof(
  fc.constantFrom(0, -0, 1, 2, -2, 0.5, 1.0000001, 2.0000001, -2.0000001, 20, 21, 128, 129, 10_000_000, 10_000_001, 2 ** 53, 2 ** 53 + 2, -(2 ** 53) - 2, 1.5, -1),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const scalar = fc.oneof(edgeNumber, fc.boolean(), fc.constant(null), fc.string({ maxLength: 8 }), fc.constantFrom('low', 'max', 'enabled', 'auto', 'text'));
const anyValue = fc.oneof(scalar, fc.jsonValue({ maxDepth: 2 }), fc.array(scalar, { maxLength: 6 }));

const part = fc.oneof(
  fc.record({ type: fc.constant('text'), text: fc.oneof(fc.string({ maxLength: 8 }), scalar) }),
  fc.record({ type: fc.constant('image_url'), image_url: fc.record({ url: fc.string({ maxLength: 8 }) }) }),
  fc.dictionary(fc.string({ maxLength: 6 }), scalar, { maxKeys: 3 }),
);
/** Mostly a value of the right kind, sometimes anything: bodies the fast path takes, and near misses. */
const mostly = <T,>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<unknown> = anyValue) => fc.oneof({ arbitrary: good, weight: 6 }, { arbitrary: bad, weight: 1 });
const text = fc.string({ maxLength: 12 });
const content = mostly(text, fc.oneof(fc.constant(null), fc.array(part, { maxLength: 3 }), scalar));
const role = mostly(fc.constantFrom('system', 'developer', 'user', 'assistant', 'tool'), fc.constantFrom('function', 'other', 1, null));
const toolCall = fc.record({ id: fc.string({ maxLength: 6 }), type: fc.constantFrom('function', 'x'), function: fc.record({ name: fc.string({ maxLength: 6 }), arguments: fc.string({ maxLength: 6 }) }) });
const rare = <T,>(a: fc.Arbitrary<T>) => fc.option(a, { freq: 8, nil: undefined });
const message = mostly(
  fc.record({
    role,
    content,
    name: rare(mostly(text, scalar)),
    refusal: rare(mostly(fc.oneof(text, fc.constant(null)), scalar)),
    tool_calls: rare(mostly(fc.array(toolCall, { maxLength: 2 }), scalar)),
    tool_call_id: rare(mostly(text, scalar)),
    reasoning_content: rare(mostly(fc.oneof(text, fc.constant(null)), scalar)),
    extra: rare(anyValue),
  }),
);

const good: Record<string, fc.Arbitrary<unknown>> = {
  stream: fc.oneof(fc.boolean(), fc.constant(null)),
  stream_options: fc.oneof(fc.record({ include_usage: fc.boolean() }, { requiredKeys: [] }), fc.constant(null)),
  max_tokens: fc.integer({ min: 1, max: 10_000_000 }),
  max_completion_tokens: fc.integer({ min: 1, max: 10_000_000 }),
  temperature: fc.double({ min: 0, max: 2, noNaN: true }),
  top_p: fc.double({ min: 0, max: 1, noNaN: true }),
  n: fc.integer({ min: 1, max: 128 }),
  stop: fc.oneof(text, fc.array(text, { maxLength: 4 })),
  seed: fc.integer(),
  presence_penalty: fc.double({ min: -2, max: 2, noNaN: true }),
  frequency_penalty: fc.double({ min: -2, max: 2, noNaN: true }),
  logprobs: fc.boolean(),
  top_logprobs: fc.integer({ min: 0, max: 20 }),
  tools: fc.constant(null),
  tool_choice: fc.constant(null),
  parallel_tool_calls: fc.boolean(),
  response_format: fc.constant(null),
  reasoning_effort: fc.constantFrom('none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max'),
  thinking: fc.record({ type: fc.constantFrom('enabled', 'disabled') }),
  user: text,
  safety_identifier: text,
  prompt_cache_key: text,
  metadata: fc.constant(null),
  service_tier: text,
  x_unknown: anyValue,
  logit_bias: anyValue,
};
const topKeys = Object.keys(good);
/** Wrong or just out of range for most keys: the bounds, other kinds, the objects' wrong members, a stop list too long. */
const nearMiss = fc.oneof(
  { arbitrary: edgeNumber, weight: 4 },
  { arbitrary: anyValue, weight: 2 },
  { arbitrary: fc.record({ include_usage: scalar }), weight: 1 },
  { arbitrary: fc.record({ type: fc.constantFrom('enabled', 'other') }), weight: 1 },
  { arbitrary: fc.array(text, { minLength: 4, maxLength: 6 }), weight: 1 },
);

const body = fc
  .record({
    model: mostly(fc.string({ minLength: 1, maxLength: 10 }), fc.oneof(fc.constant(''), fc.constant('m'.repeat(256)), fc.constant('m'.repeat(257)), scalar)),
    messages: mostly(fc.array(message, { minLength: 1, maxLength: 4 }), fc.oneof(fc.constant([]), anyValue)),
    options: fc.array(
      fc.constantFrom(...topKeys).chain((k) =>
        fc.tuple(
          fc.constant(k),
          mostly(good[k], nearMiss),
        ),
      ),
      { maxLength: 6 },
    ),
    drop: fc.constantFrom('none', 'none', 'none', 'none', 'model', 'messages'),
  })
  .map(({ model, messages, options, drop }) => {
    const o: Record<string, unknown> = Object.fromEntries(options);
    if (drop !== 'model') o.model = model;
    if (drop !== 'messages') o.messages = messages;
    // As the gateway gets it: JSON text parsed (no undefined keys; -0 comes back as 0).
    return JSON.parse(JSON.stringify(o)) as unknown;
  });

describe('chat body fast path', () => {
  it('vouches only for bodies zod accepts and returns unchanged', () => {
    let vouched = 0;
    fc.assert(
      fc.property(body, (b) => {
        const fast = chatRequestFast(b);
        if (fast === null) return;
        vouched++;
        expect(fast).toBe(b);
        const r = chatRequestSchema.safeParse(b);
        expect(r.success).toBe(true);
        expect(r.data).toStrictEqual(b);
      }),
      { numRuns: 10_000 },
    );
    // The generator must reach the fast path often enough for the property to mean something.
    expect(vouched).toBeGreaterThan(100);
  });

  // Every key against every candidate value, on an otherwise valid body: the bounds are where a hand check goes wrong.
  const candidates: unknown[] = [
    0, 1, 2, 3, -1, -2, -3, 0.5, 1.0000001, 1.9999999, 2.0000001, -2.0000001, 19, 20, 21, 127, 128, 129, 9_999_999, 10_000_000, 10_000_001,
    2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53) + 1, -(2 ** 53) - 2, 1e300, -1e300, true, false, null, '', 'x', 'low', 'max', 'huge',
    'enabled', 'disabled', 'auto', [], ['a'], ['a', 'b', 'c', 'd'], ['a', 'b', 'c', 'd', 'e'], ['a', 1], [1], {}, { include_usage: true },
    { include_usage: 1 }, { include_usage: null }, { type: 'enabled' }, { type: 'disabled' }, { type: 'other' }, { type: 'text' },
    { a: 'b' }, { a: 1 },
  ];
  const base = () => ({ model: 'm', messages: [{ role: 'user', content: 'Hi' }] }) as Record<string, unknown>;
  const agrees = (b: unknown) => {
    const fast = chatRequestFast(b);
    const r = chatRequestSchema.safeParse(b);
    if (fast !== null) {
      expect(fast).toBe(b);
      expect(r.success).toBe(true);
      expect(r.data).toStrictEqual(b);
    }
    return { fast: fast !== null, zod: r.success };
  };

  it('agrees with zod on every top-level key at its bounds, and takes what zod takes there', () => {
    const leftToZod = new Set(['tools', 'tool_choice', 'response_format', 'metadata']);
    for (const key of [...topKeys, 'model', 'messages']) {
      for (const value of candidates) {
        const b = base();
        b[key] = value;
        const { fast, zod } = agrees(JSON.parse(JSON.stringify(b)));
        if (zod && !leftToZod.has(key) && !(key === 'messages')) expect([key, value, fast]).toEqual([key, value, true]);
        if (leftToZod.has(key) && value !== null) expect(fast).toBe(false);
      }
    }
  });

  it('agrees with zod on every message field of every role', () => {
    const fields = ['content', 'name', 'refusal', 'tool_calls', 'tool_call_id', 'reasoning_content', 'role', 'other'];
    for (const role of ['system', 'developer', 'user', 'assistant', 'tool', 'function']) {
      for (const field of fields) {
        for (const value of [...candidates, [{ type: 'text', text: 'x' }]]) {
          const m: Record<string, unknown> = { role, content: 'x', tool_call_id: 'c', name: 'n' };
          m[field] = value;
          const b = base();
          b.messages = [{ role: 'system', content: 's' }, m];
          agrees(JSON.parse(JSON.stringify(b)));
        }
      }
    }
  });

  it('takes the common bodies', () => {
    const common: unknown[] = [
      { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] },
      {
        model: 'bench',
        max_tokens: 16,
        stream: true,
        stream_options: { include_usage: true },
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: 'Which tyre pressure?', name: 'ann' },
          { role: 'assistant', content: null, refusal: null },
          { role: 'assistant', content: 'Four bar.' },
          { role: 'tool', content: '{}', tool_call_id: 'call_1' },
          { role: 'developer', content: 'Be brief.' },
        ],
        temperature: 0.2,
        top_p: 1,
        n: 1,
        stop: ['\n'],
        seed: 42,
        presence_penalty: 0,
        frequency_penalty: 0,
        logprobs: false,
        top_logprobs: 0,
        parallel_tool_calls: true,
        reasoning_effort: 'low',
        thinking: { type: 'disabled' },
        user: 'u1',
        safety_identifier: 's',
        prompt_cache_key: 'k',
        service_tier: 'auto',
        tools: null,
        some_future_field: { anything: [1, 2] },
      },
    ];
    for (const b of common) {
      expect(chatRequestSchema.safeParse(b).success).toBe(true);
      expect(chatRequestFast(b)).toBe(b);
    }
  });

  it('leaves to zod what it does not check itself', () => {
    const tool = { type: 'function', function: { name: 'f', parameters: { type: 'object' } } };
    const parts = [{ type: 'text', text: 'hi' }];
    const others: Array<Record<string, unknown>> = [
      { tools: [tool] },
      { tool_choice: 'auto' },
      { response_format: { type: 'json_object' } },
      { metadata: { a: 'b' } },
      { messages: [{ role: 'user', content: parts }] },
      { messages: [{ role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] }] },
      { messages: [{ role: 'function', content: 'x', name: 'f' }] },
    ];
    for (const extra of others) {
      const b = JSON.parse(JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'Hi' }], ...extra })) as unknown;
      expect(chatRequestSchema.safeParse(b).success).toBe(true);
      expect(chatRequestFast(b)).toBeNull();
    }
    // A `__proto__` key as JSON.parse makes it (an own property), at the top and in a message.
    expect(chatRequestFast(JSON.parse('{"model":"m","messages":[{"role":"user","content":"x"}],"__proto__":{"a":1}}'))).toBeNull();
    expect(chatRequestFast(JSON.parse('{"model":"m","messages":[{"role":"user","content":"x","__proto__":{}}]}'))).toBeNull();
  });
});
