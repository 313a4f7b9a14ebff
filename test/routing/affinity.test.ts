// Cache-affinity memory: prefix keys, learned cached share, TTL and the LRU bound.
import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../src/api/openai.js';
import { createAffinity } from '../../src/routing/affinity.js';

const system = (seed: string) => `${seed} You are a helpful assistant for ACME. `.repeat(200); // ~9,000 characters
const req = (sys: string, user: string): ChatRequest => ({
  model: 'auto',
  messages: [
    { role: 'system', content: sys },
    { role: 'user', content: user },
  ],
});

describe('affinity.prefixKey', () => {
  const a = createAffinity({ maxEntries: 10, ttlMs: 60_000, now: () => 0 });

  it('is the same for requests sharing a long prefix and different otherwise', () => {
    const k1 = a.prefixKey('t1', req(system('A'), 'question one'));
    const k2 = a.prefixKey('t1', req(system('A'), 'another question'));
    expect(k1).not.toBeNull();
    expect(k1).toBe(k2);
    expect(a.prefixKey('t1', req(system('B'), 'question one'))).not.toBe(k1);
  });

  it('never shares a key across tenants', () => {
    expect(a.prefixKey('t2', req(system('A'), 'question one'))).not.toBe(a.prefixKey('t1', req(system('A'), 'question one')));
  });

  it('is null for prompts too short to be cached by a provider', () => {
    expect(a.prefixKey('t1', req('short system prompt', 'hi'))).toBeNull();
    expect(a.prefixKey('t1', req('short system prompt', 'hi'), 2)).not.toBeNull();
  });

  it('counts tool definitions as part of the prefix', () => {
    const tools = [{ type: 'function' as const, function: { name: 'lookup', description: 'x'.repeat(5_000) } }];
    const withTools = (name: string): ChatRequest => ({ ...req('s', 'u'), tools: [{ ...tools[0], function: { ...tools[0].function, name } }] });
    expect(a.prefixKey('t1', withTools('lookup'))).not.toBeNull();
    expect(a.prefixKey('t1', withTools('lookup'))).not.toBe(a.prefixKey('t1', withTools('search')));
  });
});

describe('affinity.hint / record', () => {
  it('remembers the last model and an exponentially weighted cached share per model', () => {
    const a = createAffinity({ maxEntries: 10, ttlMs: 60_000, now: () => 0, alpha: 0.5 });
    expect(a.hint('k')).toBeNull();
    a.record('k', 'deepseek-flash', 1_000, 0);
    expect(a.hint('k')).toEqual({ model: 'deepseek-flash', cachedShare: 0 });
    a.record('k', 'deepseek-flash', 1_000, 800);
    expect(a.hint('k')).toEqual({ model: 'deepseek-flash', cachedShare: 0.4 });
    a.record('k', 'gpt-4o-mini', 2_000, 2_000);
    expect(a.hint('k')).toEqual({ model: 'gpt-4o-mini', cachedShare: 1 });
    a.record('k', 'deepseek-flash', 1_000, 1_000);
    expect(a.hint('k')).toEqual({ model: 'deepseek-flash', cachedShare: 0.7 });
  });

  it('forgets a prefix after the TTL', () => {
    let t = 0;
    const a = createAffinity({ maxEntries: 10, ttlMs: 1_000, now: () => t });
    a.record('k', 'm', 100, 50);
    t = 1_000;
    expect(a.hint('k')?.model).toBe('m');
    t = 1_001;
    expect(a.hint('k')).toBeNull();
  });

  it('stays within maxEntries, evicting the least recently recorded', () => {
    const a = createAffinity({ maxEntries: 3, ttlMs: 60_000, now: () => 0 });
    for (const k of ['a', 'b', 'c']) a.record(k, 'm', 10, 0);
    a.record('a', 'm', 10, 5); // refresh a
    a.record('d', 'm', 10, 0);
    expect(a.size).toBe(3);
    expect(a.hint('b')).toBeNull();
    expect(a.hint('a')).not.toBeNull();
    expect(a.hint('d')).not.toBeNull();
  });
});
