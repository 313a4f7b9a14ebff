// One contract suite for every ResponseCache implementation (Redis and in-process): round trip, TTL, keys kept apart.
import { describe, expect, it } from 'vitest';
import type { CachedEntry, ResponseCache } from '../../src/cache/interface.js';

export function entry(text: string, over: Partial<CachedEntry> = {}): CachedEntry {
  return {
    v: 1,
    createdAt: 1_764_000_000_000,
    provider: 'openai',
    model: 'gpt-4o-mini',
    costPico: '123456789',
    tokens: { input: 20, cachedInput: 0, output: 5, reasoning: 0 },
    answer: {
      kind: 'json',
      completion: {
        id: 'chatcmpl-1',
        object: 'chat.completion',
        created: 1_764_000_000,
        model: 'gpt-4o-mini',
        choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, finish_reason: 'stop', logprobs: null }],
        usage: { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25 },
      },
    },
    ...over,
  };
}

export interface ContractHooks {
  /** A fresh cache and a key prefix private to this test. */
  make(): { cache: ResponseCache; prefix: string };
  /** Moves the cache's clock forward (memory) or waits for Redis expiry. */
  advance(ms: number): Promise<void>;
}

export function responseCacheContract(name: string, hooks: ContractHooks): void {
  describe(`ResponseCache contract: ${name}`, () => {
    it('returns what was stored, equal but not the same object', async () => {
      const { cache, prefix } = hooks.make();
      const e = entry('hello');
      await cache.set(`${prefix}:a`, e, 60);
      const got = await cache.get(`${prefix}:a`);
      expect(got).toEqual(e);
      expect(got).not.toBe(e);
      // Each read is its own copy: mutating one (the SSE writer does) leaves the stored entry intact.
      if (got?.answer.kind === 'json') got.answer.completion.choices[0].message.content = 'changed';
      expect(await cache.get(`${prefix}:a`)).toEqual(e);
    });

    it('misses an unknown key and keeps keys apart', async () => {
      const { cache, prefix } = hooks.make();
      await cache.set(`${prefix}:a`, entry('a'), 60);
      await cache.set(`${prefix}:b`, entry('b'), 60);
      expect(await cache.get(`${prefix}:c`)).toBeNull();
      const b = await cache.get(`${prefix}:b`);
      expect(b?.answer.kind === 'json' && b.answer.completion.choices[0].message.content).toBe('b');
    });

    it('overwrites an entry under the same key', async () => {
      const { cache, prefix } = hooks.make();
      await cache.set(`${prefix}:a`, entry('old'), 60);
      await cache.set(`${prefix}:a`, entry('new', { costPico: '7' }), 60);
      expect((await cache.get(`${prefix}:a`))?.costPico).toBe('7');
    });

    it('forgets an entry after its TTL', async () => {
      const { cache, prefix } = hooks.make();
      await cache.set(`${prefix}:short`, entry('short'), 1);
      await cache.set(`${prefix}:long`, entry('long'), 600);
      await hooks.advance(1_100);
      expect(await cache.get(`${prefix}:short`)).toBeNull();
      expect(await cache.get(`${prefix}:long`)).not.toBeNull();
    });

    it('keeps a stream entry with its chunks in order', async () => {
      const { cache, prefix } = hooks.make();
      const head = { id: 'c1', object: 'chat.completion.chunk' as const, created: 1, model: 'm' };
      const chunks = ['a', 'b', 'c'].map((t) => ({ ...head, choices: [{ index: 0, delta: { content: t }, finish_reason: null }] }));
      const e = entry('', { answer: { kind: 'stream', chunks } });
      await cache.set(`${prefix}:s`, e, 60);
      expect(await cache.get(`${prefix}:s`)).toEqual(e);
    });
  });
}
