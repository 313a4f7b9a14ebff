// The response cache key: sha256 of a canonical form of everything in a chat request that can change the answer.
import { createHash } from 'node:crypto';
import type { ChatMessage, ChatRequest } from '../api/openai.js';

/** Fields that never change the answer (transport, attribution, provider-side caching hints): not part of the key. */
const IGNORED = new Set(['stream', 'stream_options', 'user', 'safety_identifier', 'metadata', 'prompt_cache_key', 'service_tier']);

/** JSON with object keys sorted at every depth and undefined dropped: equal values give equal text. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  const entries = Object.entries(v as Record<string, unknown>)
    .filter(([, x]) => x !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
}

/** A content array holding a single text part says the same as the bare string. */
function normaliseMessage(m: ChatMessage): unknown {
  const c = m.content;
  if (Array.isArray(c) && c.length === 1 && c[0].type === 'text') return { ...m, content: c[0].text };
  return m;
}

/**
 * What identifies a request for the cache. Every field is kept except the ignored ones (an unknown field may change the
 * answer, so it counts), nulls mean "unset", max_tokens and max_completion_tokens are one cap, n = 1 is the default.
 * The model field is kept as sent: `auto` and a pinned model are different requests.
 */
export function normaliseRequest(req: ChatRequest): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(req)) {
    if (IGNORED.has(k) || v === null || v === undefined) continue;
    out[k] = v;
  }
  delete out.max_tokens;
  delete out.max_completion_tokens;
  const max = req.max_completion_tokens ?? req.max_tokens;
  if (max != null) out.max_tokens = max;
  if (out.n === 1) delete out.n;
  out.messages = req.messages.map(normaliseMessage);
  return out;
}

/** `tg:rc:{t:<tenant>}:<hash>`: tenant-scoped (the braces keep a tenant's entries on one Redis Cluster slot). */
export function responseCacheKey(tenantId: string, req: ChatRequest): string {
  const hash = createHash('sha256').update(canonicalJson(normaliseRequest(req))).digest('base64url');
  return `tg:rc:{t:${tenantId}}:${hash}`;
}

/** Sampling without a seed: another call may give another answer (temperature defaults to 1). */
export function isNondeterministic(req: Pick<ChatRequest, 'temperature' | 'seed'>): boolean {
  return (req.temperature ?? 1) > 0 && req.seed == null;
}
