// The Limiter seam: rate limits and budget reservations checked together, in one round trip per request.

export interface RateLimitSpec {
  /** Requests per minute. */
  rpm?: number;
  /** Tokens per minute (estimated prompt + expected output at admission, corrected at settlement). */
  tpm?: number;
}

export const budgetPeriods = ['day', 'month'] as const;
export type BudgetPeriod = (typeof budgetPeriods)[number];

export interface BudgetSpec {
  period: BudgetPeriod;
  limitPico: bigint;
  mode: 'hard' | 'soft';
  /** Start of the current period (UTC), used as part of the counter key and to seed it from the ledger. */
  periodStart: Date;
  /** When the period ends (the budget resets). */
  periodEnd: Date;
}

export interface AdmitRequest {
  requestId: string;
  tenantId: string;
  keyId: string | null;
  /** Catalog model, for per-model limits. */
  model: string | null;
  /** Epoch ms (injected clock). */
  now: number;
  /** Tokens charged to TPM limits at admission. */
  tokens: number;
  /** Most this request can cost (pico-USD); reserved against hard budgets. 0n for a cache hit (not charged). */
  reservePico: bigint;
  limits: { tenant: RateLimitSpec; key: RateLimitSpec; model: RateLimitSpec };
  budgets: BudgetSpec[];
}

/** What the x-ratelimit-* headers report (the tightest of the applicable limits). */
export interface RateLimitState {
  limitRequests: number | null;
  remainingRequests: number | null;
  resetRequestsMs: number | null;
  limitTokens: number | null;
  remainingTokens: number | null;
  resetTokensMs: number | null;
}

export interface BudgetState {
  period: BudgetPeriod;
  limitPico: bigint;
  /** Settled spend plus open reservations, after this admission. */
  spentPico: bigint;
  mode: 'hard' | 'soft';
  resetsAt: Date;
}

export type AdmitResult =
  | { ok: true; rate: RateLimitState; budgets: BudgetState[]; degraded: boolean }
  | {
      ok: false;
      reason: 'requests' | 'tokens' | 'budget';
      retryAfterMs: number;
      rate: RateLimitState;
      budgets: BudgetState[];
      /** The budget that refused, when reason is `budget`. */
      budget?: BudgetState;
    };

export interface Settlement {
  requestId: string;
  tenantId: string;
  keyId: string | null;
  model: string | null;
  now: number;
  /** Actual cost to charge (0n on failure: releases the reservation). */
  actualPico: bigint;
  /** Actual tokens, to correct the TPM counters by (actual − estimated). */
  actualTokens: number;
  estimatedTokens: number;
  budgets: BudgetSpec[];
}

export interface Limiter {
  /** Checks every rate limit and reserves budget atomically. Exactly one round trip to the backing store. */
  admit(req: AdmitRequest): Promise<AdmitResult>;
  /** Replaces the reservation by the actual cost; idempotent per requestId. Off the response path. */
  settle(s: Settlement): Promise<void>;
  /** Current spend per budget (for metrics and the dashboard). */
  budgetState(tenantId: string, budgets: BudgetSpec[]): Promise<BudgetState[]>;
  /** Drop a tenant's budget counters so they are rebuilt from the ledger (after an admin change). */
  resetBudgets(tenantId: string): Promise<void>;
  /** `up`, or `degraded` while running on the in-process fallback after losing Redis. */
  readonly status: 'up' | 'degraded' | 'down';
  close(): Promise<void>;
}

/** Sums the ledger's cost for a tenant since an instant: how counters are seeded from Postgres, the truth. */
export type SpendSeeder = (tenantId: string, since: Date) => Promise<bigint>;
