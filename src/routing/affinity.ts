// Cache-affinity memory: which model last served a long prompt prefix, and how much of its prompt the provider cached.
import { createHash } from 'node:crypto';
import type { ChatRequest } from '../api/openai.js';

export interface AffinityOptions {
  maxEntries: number;
  /** Provider prompt caches live minutes; after this a prefix is forgotten. */
  ttlMs: number;
  now: () => number;
  /** Weight of the newest observation in the cached-share average. */
  alpha?: number;
}

export interface Affinity {
  /** A key for the request's leading ~minTokens tokens (tenant-scoped), or null when the prompt is too short to be cached. */
  prefixKey(tenantId: string, req: Pick<ChatRequest, 'messages' | 'tools'>, minTokens?: number): string | null;
  hint(key: string): { model: string; cachedShare: number } | null;
  record(key: string, model: string, promptTokens: number, cachedTokens: number): void;
  readonly size: number;
}

/** A cheap stand-in for tokenization: ~4 characters per token in English text and JSON. */
const CHARS_PER_TOKEN = 4;

interface Entry {
  lastModel: string;
  shares: Map<string, number>;
  at: number;
}

/** The leading `limit` characters of tools and messages in prompt order, built without serialising the whole request. */
function leadingText(req: Pick<ChatRequest, 'messages' | 'tools'>, limit: number): string {
  let out = req.tools?.length ? JSON.stringify(req.tools) : '';
  for (const m of req.messages) {
    if (out.length >= limit) break;
    const content = typeof m.content === 'string' ? m.content : JSON.stringify(m.content ?? null);
    out += `\u0000${m.role}\u0000${content}`;
  }
  return out.slice(0, limit);
}

export function createAffinity(options: AffinityOptions): Affinity {
  const { maxEntries, ttlMs, now } = options;
  const alpha = options.alpha ?? 0.5;
  // A Map iterates in insertion order: re-inserting on use makes the first key the least recently used.
  const entries = new Map<string, Entry>();

  const live = (key: string): Entry | undefined => {
    const e = entries.get(key);
    if (!e) return undefined;
    if (now() - e.at > ttlMs) {
      entries.delete(key);
      return undefined;
    }
    return e;
  };

  return {
    prefixKey(tenantId, req, minTokens = 1024) {
      const limit = minTokens * CHARS_PER_TOKEN;
      const text = leadingText(req, limit);
      if (text.length < limit) return null;
      return createHash('sha256').update(tenantId).update('\u0000').update(text).digest('base64url').slice(0, 32);
    },
    hint(key) {
      const e = live(key);
      if (!e) return null;
      return { model: e.lastModel, cachedShare: e.shares.get(e.lastModel) ?? 0 };
    },
    record(key, model, promptTokens, cachedTokens) {
      if (promptTokens <= 0) return;
      const share = Math.min(Math.max(cachedTokens / promptTokens, 0), 1);
      const e = live(key) ?? { lastModel: model, shares: new Map<string, number>(), at: 0 };
      const prev = e.shares.get(model);
      e.shares.set(model, prev === undefined ? share : alpha * share + (1 - alpha) * prev);
      e.lastModel = model;
      e.at = now();
      entries.delete(key);
      entries.set(key, e);
      while (entries.size > maxEntries) {
        const oldest = entries.keys().next().value;
        if (oldest === undefined) break;
        entries.delete(oldest);
      }
    },
    get size() {
      return entries.size;
    },
  };
}
