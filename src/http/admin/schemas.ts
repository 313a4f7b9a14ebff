// Zod schemas of the admin API's requests and responses: the single source for validation and for /openapi.json.
import { z } from 'zod';
import { policySchema } from '../../routing/policy.js';
import { spendGroupKeys } from '../../store/interface.js';

const isoDateTime = z.string().describe('RFC 3339 date-time, UTC');
const tenantName = z.string().trim().min(1).max(200);

export const createTenantBodySchema = z.strictObject({
  name: tenantName,
  /** Omitted: the deployment's default policy (config `default_policy`). */
  policy: policySchema.optional(),
});
export type CreateTenantBody = z.infer<typeof createTenantBodySchema>;

export const patchTenantBodySchema = z.strictObject({
  name: tenantName.optional(),
  disabled: z.boolean().optional(),
});
export type PatchTenantBody = z.infer<typeof patchTenantBodySchema>;

export const budgetStatusSchema = z.object({
  period: z.enum(['day', 'month']),
  mode: z.enum(['hard', 'soft']),
  limit_usd: z.string(),
  spent_usd: z.string(),
  resets_at: isoDateTime,
});
export type BudgetStatus = z.infer<typeof budgetStatusSchema>;

export const tenantSchema = z.object({
  object: z.literal('tenant'),
  id: z.string(),
  name: z.string(),
  disabled: z.boolean(),
  policy: policySchema,
  policy_version: z.number().int(),
  created_at: isoDateTime,
  /** Present on GET /admin/tenants/:id when the limiter can tell. */
  budgets: z.array(budgetStatusSchema).optional(),
});
export type TenantBody = z.infer<typeof tenantSchema>;

export const tenantListSchema = z.object({ object: z.literal('list'), data: z.array(tenantSchema) });

export const createKeyBodySchema = z.strictObject({ name: z.string().trim().min(1).max(200) });
export type CreateKeyBody = z.infer<typeof createKeyBodySchema>;

export const apiKeySchema = z.object({
  object: z.literal('api_key'),
  id: z.string(),
  tenant_id: z.string(),
  name: z.string(),
  /** First characters of the secret, to recognise it; never enough to use it. */
  prefix: z.string(),
  created_at: isoDateTime,
  revoked_at: isoDateTime.nullable(),
  last_used_at: isoDateTime.nullable(),
});
export type ApiKeyBody = z.infer<typeof apiKeySchema>;

/** The only response that ever carries a key's secret. */
export const createdKeySchema = z.object({
  object: z.literal('api_key'),
  id: z.string(),
  tenant_id: z.string(),
  name: z.string(),
  key: z.string().describe('The secret, shown once: store it now'),
  prefix: z.string(),
  created_at: isoDateTime,
});
export type CreatedKeyBody = z.infer<typeof createdKeySchema>;

export const keyListSchema = z.object({ object: z.literal('list'), data: z.array(apiKeySchema) });

export const deletedSchema = z.object({ id: z.string(), object: z.string(), deleted: z.literal(true) });

const dateOrDateTime = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/, 'a date (YYYY-MM-DD) or an RFC 3339 date-time');

export const spendFormats = ['json', 'csv', 'focus'] as const;
export type SpendFormat = (typeof spendFormats)[number];

/** Query of GET /admin/spend and GET /v1/spend. A date-only `to` includes that whole day. */
export const spendQuerySchema = z.object({
  from: dateOrDateTime.optional().describe('Start (inclusive); default 30 days before `to`'),
  to: dateOrDateTime.optional().describe('End (exclusive for a date-time; a date includes that day); default the end of today (UTC)'),
  tenant: z.string().optional(),
  group_by: z
    .string()
    .optional()
    .describe(`Comma-separated, any of ${spendGroupKeys.join(', ')}; default day`),
  format: z.enum(spendFormats).default('json'),
});
export type SpendQueryParams = z.infer<typeof spendQuerySchema>;

const usd = z.string().describe('Exact USD decimal string (12 decimals: pico-USD)');

/** Money and counts of a spend group or of the totals; mirrors SpendAmountsJson of src/metering/spend-format.ts. */
export const spendAmountsSchema = z.object({
  requests: z.number().int(),
  errors: z.number().int(),
  cache_hits: z.number().int(),
  input_tokens: z.number().int(),
  cached_input_tokens: z.number().int(),
  output_tokens: z.number().int(),
  reasoning_tokens: z.number().int(),
  cost_usd: usd,
  baseline_cost_usd: usd,
  saved_usd: usd.describe('baseline − cost; negative when the served models cost more than the baseline'),
  savings: z.object({
    response_cache_usd: usd,
    prompt_cache_usd: usd,
    off_peak_usd: usd,
    model_choice_usd: usd,
    routing_usd: usd.describe('baseline − cost − the three named savings; the four reasons add up to saved_usd'),
  }),
});

/** JSON spend report (built by formatSpendJson in src/metering/spend-format.ts); rows carry their group fields. */
export const spendReportSchema = z.object({
  object: z.literal('spend_report'),
  from: isoDateTime,
  to: isoDateTime,
  tenant: z.string().nullable(),
  group_by: z.array(z.enum(spendGroupKeys)),
  currency: z.literal('USD'),
  rows: z.array(spendAmountsSchema.extend(Object.fromEntries(spendGroupKeys.map((k) => [k, z.string().nullable().optional()])))),
  totals: spendAmountsSchema,
});

export const errorBodySchema = z.object({
  error: z.object({
    message: z.string(),
    type: z.string(),
    param: z.string().nullable(),
    code: z.string().nullable(),
  }),
});
