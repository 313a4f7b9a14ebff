// Zod schema of the model catalog (config/models.yaml): providers, dated prices and tariffs, quality, capabilities.
import { z } from 'zod';
import { providerNames } from '../providers/types.js';

/** USD per 1M tokens as a decimal string with at most 6 decimals, so that it is an exact integer of pico-USD per token. */
export const usdPerMillion = z
  .union([z.string(), z.number()])
  .transform((v) => String(v))
  .pipe(z.string().regex(/^\d+(\.\d{1,6})?$/, 'a price is a decimal USD amount per 1M tokens with at most 6 decimals'));

const priceTriple = z.object({
  input: usdPerMillion,
  cached_input: usdPerMillion.optional(),
  output: usdPerMillion.default('0'),
});

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'time of day as HH:MM (UTC)');

/** A recurring time-of-day window (UTC) with its own prices, e.g. DeepSeek peak hours. A window may cross midnight. */
export const tariffSchema = priceTriple.extend({
  name: z.string().min(1),
  windows: z.array(z.object({ from: hhmm, to: hhmm })).min(1),
  /** ISO weekdays (1 = Monday … 7 = Sunday) the tariff applies on; all days when absent. */
  weekdays: z.array(z.number().int().min(1).max(7)).optional(),
});
export type Tariff = z.infer<typeof tariffSchema>;

/** Prices above a prompt size (Gemini 2.5 Pro above 200k tokens). */
export const tierSchema = priceTriple.extend({ above_prompt_tokens: z.number().int().positive() });
export type Tier = z.infer<typeof tierSchema>;

export const priceSchema = priceTriple.extend({
  effective_from: z.coerce.date(),
  source: z.string().optional(),
  tiers: z.array(tierSchema).default([]),
  tariffs: z.array(tariffSchema).default([]),
});
export type PriceEntry = z.infer<typeof priceSchema>;

export const capabilitiesSchema = z.object({
  tools: z.boolean().default(false),
  json_schema: z.boolean().default(false),
  vision: z.boolean().default(false),
  reasoning: z.boolean().default(false),
  context_window: z.number().int().positive(),
  max_output: z.number().int().positive(),
});
export type Capabilities = z.infer<typeof capabilitiesSchema>;

export const modelKinds = ['chat', 'embedding'] as const;

export const modelSchema = z.object({
  id: z.string().min(1),
  provider: z.enum(providerNames),
  /** The provider's own id when it differs from `id`. */
  upstream_id: z.string().optional(),
  /** Other names that resolve to this model (e.g. `deepseek-v4-flash`). */
  aliases: z.array(z.string()).default([]),
  kind: z.enum(modelKinds).default('chat'),
  jurisdiction: z.string().min(2),
  quality: z.object({ score: z.number().nonnegative(), source: z.string() }).optional(),
  capabilities: capabilitiesSchema,
  shutdown: z.coerce.date().optional(),
  successor: z.string().optional(),
  prices: z.array(priceSchema).min(1),
});
export type CatalogModelInput = z.input<typeof modelSchema>;
export type CatalogModel = z.infer<typeof modelSchema>;

export const catalogSchema = z
  .object({ models: z.array(modelSchema).min(1) })
  .superRefine((cat, ctx) => {
    const seen = new Set<string>();
    cat.models.forEach((m, i) => {
      for (const name of [m.id, `${m.provider}/${m.id}`, ...m.aliases]) {
        if (seen.has(name)) ctx.addIssue({ code: 'custom', path: ['models', i, 'id'], message: `duplicate model name ${name}` });
        seen.add(name);
      }
    });
    cat.models.forEach((m, i) => {
      if (m.successor && !cat.models.some((o) => o.id === m.successor))
        ctx.addIssue({ code: 'custom', path: ['models', i, 'successor'], message: `unknown successor ${m.successor}` });
    });
  });
export type CatalogFile = z.infer<typeof catalogSchema>;
