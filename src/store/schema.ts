// Drizzle schema of the gateway's database: tenants, versioned policies, API keys, the usage ledger, daily rollup, stored responses.
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  date,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
  text,
  timestamp,
} from 'drizzle-orm/pg-core';

const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow();
/** Pico-USD. NUMERIC(30,0) holds any sum exactly; drizzle maps it to BigInt without passing through a JS number. */
const pico = (name: string) => numeric(name, { precision: 30, scale: 0, mode: 'bigint' }).notNull().default(sql`0`);

export const tenants = pgTable('tenants', {
  id: text('id').primaryKey(),
  name: text('name').notNull(),
  disabled: boolean('disabled').notNull().default(false),
  /** The version in tenant_policies that applies now. */
  policyVersion: integer('policy_version').notNull().default(1),
  createdAt: createdAt(),
  /** Soft delete: ledger rows keep pointing at the tenant. */
  deletedAt: timestamp('deleted_at', { withTimezone: true, mode: 'date' }),
});

export const tenantPolicies = pgTable(
  'tenant_policies',
  {
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id),
    version: integer('version').notNull(),
    policy: jsonb('policy').notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.version] })],
);

export const apiKeys = pgTable(
  'api_keys',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id')
      .notNull()
      .references(() => tenants.id),
    name: text('name').notNull(),
    prefix: text('prefix').notNull(),
    /** SHA-256 hex of the secret; the secret itself is never stored. */
    hash: text('hash').notNull().unique(),
    createdAt: createdAt(),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [index('api_keys_tenant_idx').on(t.tenantId)],
);

/**
 * One row per request. No foreign key to tenants on purpose: a ledger row must never be refused (and a batch with it)
 * because of the state of another table.
 */
export const usageLedger = pgTable(
  'usage_ledger',
  {
    requestId: text('request_id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    keyId: text('key_id'),
    endpoint: text('endpoint').notNull(),
    route: text('route'),
    provider: text('provider'),
    model: text('model'),
    stream: boolean('stream').notNull(),
    inputTokens: integer('input_tokens').notNull(),
    cachedInputTokens: integer('cached_input_tokens').notNull(),
    outputTokens: integer('output_tokens').notNull(),
    reasoningTokens: integer('reasoning_tokens').notNull(),
    usageSource: text('usage_source').notNull(),
    costPico: pico('cost_pico'),
    baselineCostPico: pico('baseline_cost_pico'),
    savedResponseCachePico: pico('saved_response_cache_pico'),
    savedPromptCachePico: pico('saved_prompt_cache_pico'),
    savedOffPeakPico: pico('saved_off_peak_pico'),
    priceVersion: text('price_version'),
    status: integer('status').notNull(),
    outcome: text('outcome').notNull(),
    errorCode: text('error_code'),
    cacheHit: boolean('cache_hit').notNull(),
    attempts: jsonb('attempts').notNull(),
    latencyMs: integer('latency_ms').notNull(),
    ttftMs: integer('ttft_ms'),
    startedAt: timestamp('started_at', { withTimezone: true, mode: 'date' }).notNull(),
    recordedAt: timestamp('recorded_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    index('usage_ledger_tenant_started_idx').on(t.tenantId, t.startedAt),
    index('usage_ledger_started_idx').on(t.startedAt),
  ],
);

/**
 * Daily rollup of the ledger by every report dimension, maintained by a statement trigger on usage_ledger inserts
 * (migrations/*_ledger_rollup_trigger.sql). The trigger sees only rows actually inserted, so a replayed
 * (ON CONFLICT DO NOTHING) event adds nothing: the rollup stays exact and idempotent. Null dimensions are stored as ''.
 */
export const usageDaily = pgTable(
  'usage_daily',
  {
    day: date('day', { mode: 'string' }).notNull(),
    tenantId: text('tenant_id').notNull(),
    keyId: text('key_id').notNull(),
    provider: text('provider').notNull(),
    model: text('model').notNull(),
    route: text('route').notNull(),
    endpoint: text('endpoint').notNull(),
    requests: bigint('requests', { mode: 'number' }).notNull(),
    errors: bigint('errors', { mode: 'number' }).notNull(),
    cacheHits: bigint('cache_hits', { mode: 'number' }).notNull(),
    inputTokens: bigint('input_tokens', { mode: 'number' }).notNull(),
    cachedInputTokens: bigint('cached_input_tokens', { mode: 'number' }).notNull(),
    outputTokens: bigint('output_tokens', { mode: 'number' }).notNull(),
    reasoningTokens: bigint('reasoning_tokens', { mode: 'number' }).notNull(),
    costPico: pico('cost_pico'),
    baselineCostPico: pico('baseline_cost_pico'),
    savedResponseCachePico: pico('saved_response_cache_pico'),
    savedPromptCachePico: pico('saved_prompt_cache_pico'),
    savedOffPeakPico: pico('saved_off_peak_pico'),
  },
  (t) => [
    primaryKey({ columns: [t.day, t.tenantId, t.keyId, t.provider, t.model, t.route, t.endpoint] }),
    index('usage_daily_tenant_day_idx').on(t.tenantId, t.day),
  ],
);

export const responses = pgTable(
  'responses',
  {
    id: text('id').primaryKey(),
    tenantId: text('tenant_id').notNull(),
    body: jsonb('body').notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [index('responses_tenant_idx').on(t.tenantId), index('responses_expires_idx').on(t.expiresAt)],
);
