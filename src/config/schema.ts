// Zod schemas of the environment and of config/tollgate.yaml.
import { z } from 'zod';
import { policySchema } from '../routing/policy.js';

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));

export const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8787),
  HOST: z.string().default('0.0.0.0'),
  DATABASE_URL: optionalString,
  REDIS_URL: optionalString,
  TOLLGATE_DATA_DIR: z.string().default('./data'),
  TOLLGATE_CONFIG: z.string().default('config/tollgate.yaml'),
  TOLLGATE_ADMIN_TOKEN: optionalString,
  TOLLGATE_METRICS_TOKEN: optionalString,
  OPENAI_API_KEY: optionalString,
  DEEPSEEK_API_KEY: optionalString,
  GEMINI_API_KEY: optionalString,
  OPENAI_BASE_URL: z.url().default('https://api.openai.com/v1'),
  DEEPSEEK_BASE_URL: z.url().default('https://api.deepseek.com'),
  GEMINI_BASE_URL: z.url().default('https://generativelanguage.googleapis.com'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  NODE_ENV: z.string().optional(),
});
export type Env = z.infer<typeof envSchema>;

const duration = z.number().int().positive();

export const fileConfigSchema = z.object({
  /** Path of the model catalog, relative to the config file. */
  catalog: z.string().default('models.yaml'),
  server: z
    .object({
      body_limit_bytes: z.number().int().positive().default(10 * 1024 * 1024),
      max_messages: z.number().int().positive().default(2048),
      max_header_bytes: z.number().int().positive().default(16 * 1024),
      request_timeout_ms: duration.default(600_000),
      shutdown_grace_ms: duration.default(30_000),
      /** Log prompt text (off: only ids, counts and costs). */
      log_prompts: z.boolean().default(false),
      /** Failed authentications per client IP per minute before 429. */
      auth_failures_per_minute: z.number().int().positive().default(30),
    })
    .prefault({}),
  upstream: z
    .object({
      connect_timeout_ms: duration.default(5_000),
      /** Time allowed until the upstream's response headers (non-stream: the whole answer). */
      timeout_ms: duration.default(120_000),
      /** Longest silence between two stream chunks. */
      stream_idle_timeout_ms: duration.default(60_000),
      connections_per_origin: z.number().int().positive().default(128),
      /** Fetch http(s) image URLs for providers that need inline data (Gemini); only public addresses. */
      fetch_images: z.boolean().default(false),
      image_max_bytes: z.number().int().positive().default(10 * 1024 * 1024),
      image_timeout_ms: duration.default(10_000),
    })
    .prefault({}),
  limits: z
    .object({
      /** When Redis is lost at run time: keep serving with in-process limits (fail_open) or answer 503 (fail_closed). */
      on_redis_failure: z.enum(['fail_open', 'fail_closed']).default('fail_open'),
      /** Seconds after which an unsettled budget reservation expires (an instance died mid-request). */
      reservation_ttl_s: z.number().int().positive().default(900),
      /**
       * Admission ahead of Redis (src/limits/ahead.ts): while Redis' last reading leaves this share of every rate limit
       * and hard budget free after the request, the request goes ahead without waiting for Redis' answer (the
       * reservation is still made there). 0 = every request waits for Redis.
       */
      admit_ahead_headroom: z.number().min(0).max(1).default(0.5),
      /**
       * How old (ms) that reading may be. Every answer renews it, so the age only matters to a tenant's first request
       * after a pause: 5 s lets a client that sends one request every few seconds (an interactive app, back-to-back
       * streams) go ahead; what other replicas may take meanwhile is bounded by the headroom and the room.
       */
      admit_ahead_max_age_ms: z.number().int().min(0).max(60_000).default(5000),
      /** The room left must also hold this many more requests like this one (small limits never go ahead). */
      admit_ahead_room_requests: z.number().int().min(0).max(1_000_000).default(100),
    })
    .prefault({}),
  ledger: z
    .object({
      batch_size: z.number().int().positive().default(500),
      flush_interval_ms: duration.default(250),
      /** Events held in memory before spilling to the spool file. */
      max_queue: z.number().int().positive().default(20_000),
    })
    .prefault({}),
  /** Circuit breakers per provider+model: this many failures within the window open it for open_ms, then one probe. */
  circuit: z
    .object({
      failures: z.number().int().positive().default(5),
      window_ms: duration.default(30_000),
      open_ms: duration.default(15_000),
    })
    .prefault({}),
  metrics: z
    .object({ max_tenant_labels: z.number().int().positive().default(100) })
    .prefault({}),
  /** Policy for tenants created without one. */
  default_policy: policySchema.default(policySchema.parse({})),
  /** Seconds an auth cache entry lives; bounds how long a revoked key keeps working on another instance. */
  auth_cache_ttl_s: z.number().positive().default(2),
});
export type FileConfig = z.infer<typeof fileConfigSchema>;
