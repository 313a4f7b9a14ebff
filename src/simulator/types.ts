// Public types of the provider simulator: options, usage records and fault rules (zod-validated on the control API).
import { z } from 'zod';

export const simProviders = ['openai', 'deepseek', 'gemini'] as const;
export type SimProvider = (typeof simProviders)[number];

export interface SimulatorOptions {
  /** Default 0 (a random free port). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Accepted API keys; defaults: `sk-sim-openai`, `sk-sim-deepseek`, `sim-gemini-key`. */
  keys?: { openai?: string; deepseek?: string; gemini?: string };
  /** Added before the response headers (non-stream: before the body). */
  latencyMs?: number;
  /** Stream: delay before the first content chunk. */
  ttftMs?: number;
  /** Stream: delay between chunks (0 = as fast as possible). */
  chunkDelayMs?: number;
  /** Output tokens when the request sets no smaller max tokens (default 40). */
  defaultOutputTokens?: number;
  seed?: number;
  /** Model catalog to list and accept (default: config/models.yaml of this package). */
  catalogPath?: string;
  /** Accept any model name instead of answering 404 for names missing from the catalog (default false). */
  acceptAnyModel?: boolean;
  /** Records kept in memory; the oldest are dropped beyond it (default 100 000). */
  maxRecords?: number;
}

export interface SimRecord {
  id: string;
  provider: SimProvider;
  endpoint: 'chat' | 'embeddings' | 'responses';
  model: string;
  stream: boolean;
  /** HTTP status sent; 0 when the connection was dropped before any status line. */
  status: number;
  promptTokens: number;
  cachedTokens: number;
  /** Includes reasoningTokens (as OpenAI and DeepSeek report it); for Gemini candidates + thoughts. */
  completionTokens: number;
  reasoningTokens: number;
  aborted: boolean;
  fault: string | null;
  /** Epoch milliseconds when the request finished. */
  at: number;
}

export const faultSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('status'), status: z.number().int().min(400).max(599), retryAfterS: z.number().nonnegative().optional() }),
  z.object({ type: z.literal('reset') }),
  z.object({ type: z.literal('hang') }),
  z.object({ type: z.literal('delay'), ms: z.number().int().nonnegative() }),
  z.object({ type: z.literal('cut'), afterChunks: z.number().int().nonnegative() }),
  z.object({ type: z.literal('error_event'), afterChunks: z.number().int().nonnegative() }),
  z.object({ type: z.literal('auth') }),
]);
export type Fault = z.infer<typeof faultSchema>;

export const faultRuleSchema = z.object({
  provider: z.enum(simProviders).optional(),
  model: z.string().optional(),
  fault: faultSchema,
  /** How many requests it applies to; forever when absent. */
  times: z.number().int().positive().optional(),
});
export type FaultRule = z.infer<typeof faultRuleSchema>;
export const faultRulesSchema = z.array(faultRuleSchema);

/** Timing and length settings that may change while the simulator runs (`configure()`, `PUT /__sim/settings`). */
export const simSettingsPatchSchema = z
  .object({
    latencyMs: z.number().int().nonnegative(),
    ttftMs: z.number().int().nonnegative(),
    chunkDelayMs: z.number().int().nonnegative(),
    defaultOutputTokens: z.number().int().positive(),
  })
  .partial()
  .strict();
export type SimSettingsPatch = z.infer<typeof simSettingsPatchSchema>;

export interface Simulator {
  url: string;
  port: number;
  /** What to put in OPENAI_BASE_URL, DEEPSEEK_BASE_URL and GEMINI_BASE_URL. */
  baseUrls: { openai: string; deepseek: string; gemini: string };
  /** Usage log of completed, failed and aborted requests, oldest first. */
  records(): SimRecord[];
  reset(): void;
  setFaults(rules: FaultRule[]): void;
  clearFaults(): void;
  /** Change latency, time to first token, chunk pacing or default length for the following requests. */
  configure(patch: SimSettingsPatch): void;
  close(): Promise<void>;
}
