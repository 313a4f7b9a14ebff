// Zod schema of a tenant's policy: route aliases and strategies, constraints, baseline, budgets, limits, cache.
import { z } from 'zod';
import { providerNames } from '../providers/types.js';

/** A USD amount as an exact decimal string (at most 12 decimals: pico-USD). */
export const usdAmount = z
  .union([z.string(), z.number()])
  .transform((v) => String(v))
  .pipe(z.string().regex(/^\d+(\.\d{1,12})?$/, 'a USD amount as a decimal, e.g. "12.50"'));

export const strategies = ['cheapest', 'best_quality', 'best_value'] as const;
export type Strategy = (typeof strategies)[number];

const aliasName = z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/, 'alias: lower-case letters, digits, - and _, at most 32');

export const routeSchema = z.object({
  strategy: z.enum(strategies).default('best_value'),
  min_quality: z.number().nonnegative().optional(),
  /** Price caps, USD per 1M tokens (at the current hour's tariff). */
  max_input_price: usdAmount.optional(),
  max_output_price: usdAmount.optional(),
  /** Estimated cost of one request, USD. */
  max_cost_per_request: usdAmount.optional(),
  /** Narrow this alias to these models / providers (on top of the tenant-wide allow/deny lists). */
  models: z.array(z.string()).optional(),
  providers: z.array(z.enum(providerNames)).optional(),
  /** Try the next candidate on a retryable failure before the first byte. */
  fallback: z.boolean().default(true),
  max_attempts: z.number().int().min(1).max(5).default(3),
});
export type RouteConfig = z.infer<typeof routeSchema>;

const allowDeny = z.object({
  providers: z.array(z.enum(providerNames)).optional(),
  models: z.array(z.string()).optional(),
  jurisdictions: z.array(z.string()).optional(),
});

export const budgetSchema = z.object({
  limit_usd: usdAmount,
  /** hard: never exceeded (reserve before, settle after); soft: alert only. */
  mode: z.enum(['hard', 'soft']).default('hard'),
});
export type BudgetConfig = z.infer<typeof budgetSchema>;

const limitPair = z.object({ rpm: z.number().int().positive().optional(), tpm: z.number().int().positive().optional() });

export const policySchema = z.object({
  routes: z.record(aliasName, routeSchema).default({ auto: routeSchema.parse({}) }),
  allow: allowDeny.default({}),
  deny: allowDeny.default({}),
  /** A request naming a catalog model: honour it as is, or substitute an equivalent (same or better quality, cheaper) within policy. */
  pinned: z.enum(['honour', 'substitute']).default('honour'),
  /** Allow a pinned retired model to go to its catalog successor. */
  follow_successor: z.boolean().default(true),
  baseline_model: z.string().default('gpt-4o'),
  /** Per-model quality overrides (the tenant's own evals). */
  quality_overrides: z.record(z.string(), z.number().nonnegative()).default({}),
  /** Expected output tokens when a request gives no max_tokens and there is no recent average. */
  expected_output_tokens: z.number().int().positive().default(512),
  budgets: z
    .object({
      daily: budgetSchema.optional(),
      monthly: budgetSchema.optional(),
      /** Fraction of a budget spent at which routes switch to `downgrade_strategy`. */
      downgrade_at: z.number().gt(0).lt(1).optional(),
      downgrade_strategy: z.enum(strategies).default('cheapest'),
      /** Cap on the output tokens a hard budget reserves for when the request sets no max_tokens. */
      max_output_reserve: z.number().int().positive().default(4096),
    })
    .default({ downgrade_strategy: 'cheapest', max_output_reserve: 4096 }),
  rate_limits: z
    .object({
      tenant: limitPair.default({}),
      key: limitPair.default({}),
      models: z.record(z.string(), limitPair).default({}),
      max_concurrent_streams: z.number().int().positive().optional(),
    })
    .default({ tenant: {}, key: {}, models: {} }),
  cache: z
    .object({
      enabled: z.boolean().default(false),
      ttl_seconds: z.number().int().positive().max(30 * 86400).default(3600),
      /** Also cache requests with temperature > 0 and no seed. */
      nondeterministic: z.boolean().default(false),
      max_entry_bytes: z.number().int().positive().default(256 * 1024),
      affinity: z.boolean().default(true),
    })
    .default({ enabled: false, ttl_seconds: 3600, nondeterministic: false, max_entry_bytes: 256 * 1024, affinity: true }),
});
export type Policy = z.infer<typeof policySchema>;
export type PolicyInput = z.input<typeof policySchema>;

export const defaultPolicy: Policy = policySchema.parse({});
