// The Provider seam: one small interface that every upstream adapter (and the in-memory fake) implements.
import type { ChatChunk, ChatCompletion, ChatRequest, EmbeddingRequest, EmbeddingResponse } from '../api/openai.js';
import { createStamp, type Stamp } from '../stamp.js';

export const providerNames = ['openai', 'deepseek', 'gemini'] as const;
export type ProviderName = (typeof providerNames)[number];

/**
 * What an upstream call needs of a cancellation signal: an AbortSignal is one, and so are the gateway's lighter
 * per-request signals (src/gateway/upstream-signal.ts). Each listener runs once, when it aborts.
 */
export interface AbortLike {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface CallContext {
  /** The provider's own model id (catalog `upstream_id`), replacing the client's `model`. */
  upstreamModel: string;
  requestId: string;
  /** Aborted when the client goes away or the overall timeout fires: the upstream request must be cancelled. */
  signal: AbortLike;
  /** Aborts `signal` (the attempt owns it): the upstream deadline cancels the call through it. */
  abort(reason: Error): void;
  /** Tenant id, for provider features keyed by it (e.g. OpenAI prompt_cache_key); never sent raw. */
  tenantId?: string;
}

/**
 * A chat stream as parsed OpenAI chunks. The adapter always asks its upstream for usage; the final usage chunk
 * (`choices: []`, `usage` set) is yielded like any other chunk and the gateway decides whether the client sees it.
 * Iteration throws UpstreamError for an error in the middle of the stream.
 */
export type ChatStream = AsyncIterable<ChatChunk>;

/**
 * The upstream's own JSON text of a stream chunk the adapter parsed and did not change, so that the gateway can pass
 * its bytes through instead of serialising the object again (src/gateway/sse.ts). Absent for a chunk an adapter
 * built or rewrote. Whoever changes a chunk in place must not use its text.
 */
export const chunkText: Stamp<string> = createStamp<string>();

/**
 * The same for a whole chat completion: the upstream's answer text, when the adapter returned it unchanged. Stamps,
 * not WeakMaps (src/stamp.ts): an entry per answer and per chunk made every young-generation collection slower.
 */
export const completionText: Stamp<string> = createStamp<string>();

export interface Provider {
  readonly name: ProviderName;
  chat(req: ChatRequest, ctx: CallContext): Promise<ChatCompletion>;
  /** Resolves once the upstream accepted the request (status 2xx and headers read); rejects with UpstreamError before that. */
  chatStream(req: ChatRequest, ctx: CallContext): Promise<ChatStream>;
  embed(req: EmbeddingRequest, ctx: CallContext): Promise<EmbeddingResult>;
}

export interface EmbeddingResult {
  response: EmbeddingResponse;
  /** `estimated` when the upstream reports no usage (Gemini) and the gateway counted tokens itself. */
  usageSource: 'reported' | 'estimated';
}

/** Why an upstream call failed; decides fallback (retryable) and what the client sees. */
export const upstreamFailureKinds = [
  'http', // upstream answered with a non-2xx status
  'auth', // upstream rejected the gateway's own provider key (401/403, Gemini API_KEY_INVALID)
  'timeout', // connect or overall timeout
  'connect', // connection refused / DNS / TLS
  'reset', // connection reset or closed before a complete answer
  'stream', // an error event or a cut in the middle of a stream
  'aborted', // the client went away
  'invalid_response', // upstream answered 2xx with something unparseable
] as const;
export type UpstreamFailureKind = (typeof upstreamFailureKinds)[number];

export class UpstreamError extends Error {
  readonly provider: ProviderName;
  readonly kind: UpstreamFailureKind;
  /** Upstream HTTP status, when there was one. */
  readonly status: number | null;
  /** OpenAI-style code/type/param derived from the upstream body (already translated for Gemini). */
  readonly code: string | null;
  readonly type: string | null;
  readonly param: string | null;
  /** From Retry-After / retry-after-ms / Gemini RetryInfo. */
  readonly retryAfterMs: number | null;

  constructor(init: {
    provider: ProviderName;
    kind: UpstreamFailureKind;
    message: string;
    status?: number | null;
    code?: string | null;
    type?: string | null;
    param?: string | null;
    retryAfterMs?: number | null;
    cause?: unknown;
  }) {
    super(init.message, { cause: init.cause });
    this.name = 'UpstreamError';
    this.provider = init.provider;
    this.kind = init.kind;
    this.status = init.status ?? null;
    this.code = init.code ?? null;
    this.type = init.type ?? null;
    this.param = init.param ?? null;
    this.retryAfterMs = init.retryAfterMs ?? null;
  }

  /** Worth trying the next candidate: connection trouble, timeouts, 408/409/429 and 5xx. Never a 4xx about the request itself. */
  get retryable(): boolean {
    if (this.kind === 'aborted' || this.kind === 'invalid_response') return false;
    if (this.kind === 'auth') return true; // another provider's key may work
    if (this.kind !== 'http') return true;
    const s = this.status ?? 0;
    return s === 408 || s === 409 || s === 429 || s >= 500;
  }
}
