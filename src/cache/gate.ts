// The response cache on the request path: whether a request may use it (policy, header, determinism), the lookup that
// never fails a request, and the store of a finished answer (off the response path).
import type { ChatChunk, ChatRequest } from '../api/openai.js';
import type { CatalogModel } from '../config/catalog.js';
import type { TokenCounts } from '../metering/cost.js';
import type { Policy } from '../routing/policy.js';
import type { Logger } from '../logger.js';
import type { CacheResult } from '../metrics/metrics.js';
import { finishedCleanly, streamFinishReasons } from './convert.js';
import type { CachedEntry, ResponseCache } from './interface.js';
import { isNondeterministic, responseCacheKey } from './key.js';

/** The request header `x-tollgate-cache`: `no-store` (neither read nor write), `max-age=N` (accept entries younger than N s). */
export const CACHE_HEADER = 'x-tollgate-cache';

export interface CacheDirective {
  noStore: boolean;
  maxAgeS: number | null;
}

/** Parses the header like Cache-Control: comma-separated, case-insensitive; unknown parts are ignored. */
export function parseCacheDirective(header: string | null | undefined): CacheDirective {
  const d: CacheDirective = { noStore: false, maxAgeS: null };
  for (const part of (header ?? '').split(',')) {
    const p = part.trim().toLowerCase();
    if (p === 'no-store' || p === 'no-cache') d.noStore = true;
    const m = /^max-age\s*=\s*(\d{1,9})$/.exec(p);
    if (m) d.maxAgeS = Number(m[1]);
  }
  return d;
}

export type CachePlan =
  | { mode: 'off' }
  | { mode: 'bypass' }
  | { mode: 'use'; key: string; maxAgeS: number | null; ttlS: number; maxEntryBytes: number };

/** Off unless the tenant enabled it; bypassed by `no-store` and, unless the tenant allows it, by sampling without a seed. */
export function planCache(policy: Policy, tenantId: string, req: ChatRequest, header: string | null | undefined): CachePlan {
  const c = policy.cache;
  if (!c.enabled) return { mode: 'off' };
  const d = parseCacheDirective(header);
  if (d.noStore) return { mode: 'bypass' };
  if (!c.nondeterministic && isNondeterministic(req)) return { mode: 'bypass' };
  return { mode: 'use', key: responseCacheKey(tenantId, req), maxAgeS: d.maxAgeS, ttlS: c.ttl_seconds, maxEntryBytes: c.max_entry_bytes };
}

export interface Lookup {
  result: Extract<CacheResult, 'hit' | 'miss' | 'error'>;
  entry: CachedEntry | null;
}

/**
 * One GET. A failing or slow cache is a miss counted as `error`; an entry older than max-age, or from a model this
 * request may not use now (policy changed since), is a miss.
 */
export async function lookupCache(
  cache: ResponseCache,
  plan: Extract<CachePlan, { mode: 'use' }>,
  nowMs: number,
  usable: (model: string) => boolean,
  logger: Logger,
): Promise<Lookup> {
  let entry: CachedEntry | null;
  try {
    entry = await cache.get(plan.key);
  } catch (e) {
    logger.warn({ err: String(e) }, 'response cache lookup failed: served as a miss');
    return { result: 'error', entry: null };
  }
  if (!entry) return { result: 'miss', entry: null };
  if (plan.maxAgeS !== null && nowMs - entry.createdAt > plan.maxAgeS * 1000) return { result: 'miss', entry: null };
  if (!usable(entry.model)) return { result: 'miss', entry: null };
  return { result: 'hit', entry };
}

export interface StoreArgs {
  cache: ResponseCache;
  plan: Extract<CachePlan, { mode: 'use' }>;
  model: CatalogModel;
  costPico: bigint;
  tokens: TokenCounts;
  createdAt: number;
  answer: CachedEntry['answer'];
  /** Serialised size of the answer, known to the caller (the response body, the streamed bytes). */
  answerBytes: number;
  logger: Logger;
  count: (r: Extract<CacheResult, 'store' | 'error'>) => void;
}

/** Stores a clean, small enough answer in the background; failures are logged and counted, never surfaced. */
export function storeAnswer(a: StoreArgs): void {
  const reasons =
    a.answer.kind === 'json' ? a.answer.completion.choices.map((c) => c.finish_reason) : streamFinishReasons(a.answer.chunks);
  if (!finishedCleanly(reasons) || a.answerBytes > a.plan.maxEntryBytes) return;
  const entry: CachedEntry = {
    v: 1,
    createdAt: a.createdAt,
    provider: a.model.provider,
    model: a.model.id,
    costPico: a.costPico.toString(),
    tokens: { input: a.tokens.input, cachedInput: a.tokens.cachedInput, output: a.tokens.output, reasoning: a.tokens.reasoning },
    answer: a.answer,
  };
  a.cache.set(a.plan.key, entry, a.plan.ttlS).then(
    () => a.count('store'),
    (e: unknown) => {
      a.count('error');
      a.logger.warn({ err: String(e) }, 'response cache store failed');
    },
  );
}

/**
 * Copies the chunks of a stream as they pass to the client (copies: the SSE writer deletes `usage` from chunks a
 * client did not ask it for), up to a byte bound beyond which the answer is too big to keep.
 */
export interface StreamTap {
  wrap(rest: AsyncIterator<ChatChunk>): AsyncIterator<ChatChunk>;
  /** The chunks, or null when the stream outgrew the bound. */
  chunks(): ChatChunk[] | null;
  /**
   * Bytes of the chunks so far (JSON). A method: a getter in the object literal below would give every stream's tap an
   * accessor of its own in the old generation, which kept the tap, and every chunk it holds, past each young-generation
   * collection (see Plan in src/routing/router.ts).
   */
  bytes(): number;
}

export function createStreamTap(first: ChatChunk, maxBytes: number): StreamTap {
  let chunks: ChatChunk[] | null = [];
  let bytes = 0;
  const add = (c: ChatChunk) => {
    if (!chunks) return;
    const json = JSON.stringify(c);
    bytes += json.length;
    if (bytes > maxBytes) chunks = null;
    else chunks.push(JSON.parse(json) as ChatChunk);
  };
  add(first);
  return {
    wrap(rest) {
      const ret = rest.return?.bind(rest);
      return {
        async next() {
          const r = await rest.next();
          if (!r.done) add(r.value);
          return r;
        },
        return: ret,
      };
    },
    chunks: () => chunks,
    bytes: () => bytes,
  };
}
