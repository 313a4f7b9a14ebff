// Implicit prompt caching as the providers do it: a later prompt sharing a token prefix with an earlier one gets cached tokens.
import { Lru } from './util.js';
import { tokenizer } from '../metering/tokens.js';

export interface CacheRule {
  /** Cached tokens are a multiple of this (OpenAI and Gemini 128, DeepSeek 64). */
  granularity: number;
  /** No cache hit below this many common tokens (OpenAI and Gemini 1024). */
  minimum: number;
}

export const cacheRules = {
  openai: { granularity: 128, minimum: 1024 },
  deepseek: { granularity: 64, minimum: 64 },
  gemini: { granularity: 128, minimum: 1024 },
} as const satisfies Record<string, CacheRule>;

export interface PromptCache {
  /**
   * Cached tokens for this prompt in `scope` (provider, model, api key), then remembers it.
   * `conversation` is the serialized prompt, `promptTokens` what the request is billed for (the result never exceeds it).
   */
  lookup(scope: string, conversation: string, promptTokens: number, rule: CacheRule): number;
  clear(): void;
}

const PROMPTS_PER_SCOPE = 32;

function commonPrefix(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

export function createPromptCache(options: { scopes?: number } = {}): PromptCache {
  const scopes = new Lru<string, Lru<string, readonly number[]>>(options.scopes ?? 256);
  // Identical long prompts repeat a lot (benchmarks, retries): tokenise each distinct one once.
  const encodings = new Lru<string, readonly number[]>(256);

  function tokensOf(conversation: string): readonly number[] {
    let t = encodings.get(conversation);
    if (!t) {
      t = tokenizer().encode(conversation);
      encodings.set(conversation, t);
    }
    return t;
  }

  return {
    lookup(scope, conversation, promptTokens, rule) {
      // A prompt below the minimum can neither hit nor give a later prompt a hit of the minimum size.
      if (promptTokens < rule.minimum) return 0;
      const tokens = tokensOf(conversation);
      let prompts = scopes.get(scope);
      if (!prompts) {
        prompts = new Lru(PROMPTS_PER_SCOPE);
        scopes.set(scope, prompts);
      }
      let best = 0;
      for (const earlier of prompts.values()) best = Math.max(best, commonPrefix(tokens, earlier));
      prompts.set(conversation, tokens);
      const capped = Math.min(best, promptTokens);
      const cached = Math.floor(capped / rule.granularity) * rule.granularity;
      return cached >= rule.minimum ? cached : 0;
    },
    clear() {
      scopes.clear();
      encodings.clear();
    },
  };
}
