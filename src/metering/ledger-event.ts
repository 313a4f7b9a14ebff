// One metered request, as the gateway hands it to the ledger (one row per request id).
import type { ProviderName } from '../providers/types.js';

export const endpoints = ['chat', 'embeddings', 'responses'] as const;
export type Endpoint = (typeof endpoints)[number];

export const usageSources = ['reported', 'estimated', 'none'] as const;
export type UsageSource = (typeof usageSources)[number];

export const outcomes = ['ok', 'error', 'aborted', 'cache_hit', 'rejected'] as const;
export type Outcome = (typeof outcomes)[number];

/** One upstream attempt of a request (fallbacks make several). */
export interface Attempt {
  provider: ProviderName;
  model: string;
  /** HTTP status from upstream, or null for connect/timeout failures. */
  status: number | null;
  error: string | null;
  latencyMs: number;
}

export interface LedgerEvent {
  requestId: string;
  tenantId: string;
  keyId: string | null;
  endpoint: Endpoint;
  /** Route alias used (`auto`, `cheap`…), null when the client pinned a catalog model. */
  route: string | null;
  provider: ProviderName | null;
  /** Catalog model id that served (or last failed). */
  model: string | null;
  stream: boolean;
  /** Token counts: input INCLUDES cachedInput, output INCLUDES reasoning. */
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  usageSource: UsageSource;
  /** Pico-USD, exact. */
  costPico: bigint;
  /** What the tenant's baseline model would have cost for the same tokens (no cache discount). */
  baselineCostPico: bigint;
  /** Savings by reason, pico-USD: answered from the response cache; provider prompt-cache discount; off-peak tariff. */
  savedResponseCachePico: bigint;
  savedPromptCachePico: bigint;
  savedOffPeakPico: bigint;
  priceVersion: string | null;
  /** HTTP status the client received. */
  status: number;
  outcome: Outcome;
  errorCode: string | null;
  cacheHit: boolean;
  attempts: Attempt[];
  latencyMs: number;
  ttftMs: number | null;
  startedAt: Date;
}

/** The event's money fields (pico-USD bigints), as the ledger's spend sums name them too. */
export const moneyFields = ['costPico', 'baselineCostPico', 'savedResponseCachePico', 'savedPromptCachePico', 'savedOffPeakPico'] as const satisfies ReadonlyArray<keyof LedgerEvent>;
