// The response cache seam: one interface, a Redis and an in-process implementation, and the entry they hold.
import { z } from 'zod';
import type { ChatChunk, ChatCompletion } from '../api/openai.js';
import { providerNames } from '../providers/types.js';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

// Answers come from our own adapters (typed, not validated on the way in); on the way out of a shared store the
// envelope is checked so that a foreign or truncated value is a miss, not a crash.
const completionLike = z.custom<ChatCompletion>((v) => isRecord(v) && v.object === 'chat.completion' && Array.isArray(v.choices));
const chunkLike = z.custom<ChatChunk>((v) => isRecord(v) && v.object === 'chat.completion.chunk' && Array.isArray(v.choices));
const count = z.number().int().nonnegative();

export const cachedEntrySchema = z.object({
  v: z.literal(1),
  /** Epoch ms when the answer was stored (the gateway clock): `max-age` compares against it. */
  createdAt: z.number(),
  /** Catalog model and provider that produced the answer. */
  provider: z.enum(providerNames),
  model: z.string(),
  /** What the original answer cost, pico-USD as a decimal string (what a hit saves). */
  costPico: z.string().regex(/^\d+$/),
  /** The original answer's token counts (input includes cached, output includes reasoning). */
  tokens: z.object({ input: count, cachedInput: count, output: count, reasoning: count }),
  answer: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('json'), completion: completionLike }),
    z.object({ kind: z.literal('stream'), chunks: z.array(chunkLike).min(1) }),
  ]),
});
export type CachedEntry = z.infer<typeof cachedEntrySchema>;

export interface ResponseCache {
  /** The entry under `key`, or null. Rejects when the backing store fails (the caller turns that into a miss). */
  get(key: string): Promise<CachedEntry | null>;
  /** Stores `entry` for `ttlS` seconds. Rejects when the backing store fails. */
  set(key: string, entry: CachedEntry, ttlS: number): Promise<void>;
  readonly kind: 'redis' | 'memory';
}

/** Parses a stored value; null for anything that is not a valid entry (a miss). */
export function parseEntry(raw: string): CachedEntry | null {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return null;
  }
  const r = cachedEntrySchema.safeParse(json);
  return r.success ? r.data : null;
}

export const serializeEntry = (entry: CachedEntry): string => JSON.stringify(entry);
