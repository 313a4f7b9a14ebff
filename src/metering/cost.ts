// Exact cost of one request from its token counts and the unit prices in force.
import type { Usage } from '../api/openai.js';
import type { UnitPrices } from '../routing/catalog.js';

/** Token counts by kind. `input` INCLUDES `cachedInput`; `output` INCLUDES `reasoning` (OpenAI's convention). */
export interface TokenCounts {
  input: number;
  cachedInput: number;
  output: number;
  reasoning: number;
}

export const zeroTokens: TokenCounts = Object.freeze({ input: 0, cachedInput: 0, output: 0, reasoning: 0 });

/** Cost in pico-USD: uncached input × input + cached × cached price + output (reasoning included) × output. */
export function costOf(tokens: TokenCounts, prices: UnitPrices): bigint {
  const cached = Math.min(tokens.cachedInput, tokens.input);
  return (
    BigInt(tokens.input - cached) * prices.input + BigInt(cached) * prices.cachedInput + BigInt(tokens.output) * prices.output
  );
}

export function tokensFromUsage(u: Usage): TokenCounts {
  return {
    input: u.prompt_tokens ?? 0,
    cachedInput: u.prompt_tokens_details?.cached_tokens ?? 0,
    output: u.completion_tokens ?? 0,
    reasoning: u.completion_tokens_details?.reasoning_tokens ?? 0,
  };
}
