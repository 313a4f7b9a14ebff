// The Store seam: tenants, keys, versioned policies, the ledger, spend reports and stored responses.
import type { LedgerEvent } from '../metering/ledger-event.js';
import type { Policy } from '../routing/policy.js';

export interface Tenant {
  id: string;
  name: string;
  disabled: boolean;
  policy: Policy;
  policyVersion: number;
  createdAt: Date;
}

export interface ApiKeyRecord {
  id: string;
  tenantId: string;
  name: string;
  /** First characters of the secret (e.g. `tg_ab12`), for people to recognise a key; never enough to use it. */
  prefix: string;
  createdAt: Date;
  revokedAt: Date | null;
  lastUsedAt?: Date | null;
}

export const spendGroupKeys = ['day', 'tenant', 'key', 'provider', 'model', 'route', 'endpoint'] as const;
export type SpendGroupKey = (typeof spendGroupKeys)[number];

export interface SpendQuery {
  from: Date;
  /** Exclusive. */
  to: Date;
  tenantId?: string;
  groupBy: SpendGroupKey[];
}

/** One group of a spend report; money as exact pico-USD. */
export interface SpendRow {
  group: Partial<Record<SpendGroupKey, string>>;
  requests: number;
  errors: number;
  cacheHits: number;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  costPico: bigint;
  baselineCostPico: bigint;
  savedResponseCachePico: bigint;
  savedPromptCachePico: bigint;
  savedOffPeakPico: bigint;
}

export interface StoredResponse {
  id: string;
  tenantId: string;
  /** The full Responses API object as returned to the client, plus what is needed to continue the conversation. */
  body: unknown;
  createdAt: Date;
  expiresAt: Date;
}

export interface Store {
  readonly kind: 'postgres' | 'pglite';
  migrate(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;

  createTenant(input: { name: string; policy: Policy }): Promise<Tenant>;
  listTenants(): Promise<Tenant[]>;
  getTenant(id: string): Promise<Tenant | null>;
  updateTenant(id: string, patch: { name?: string; disabled?: boolean }): Promise<Tenant | null>;
  /** Soft-deletes (disables and hides) so that ledger rows keep their tenant. */
  deleteTenant(id: string): Promise<boolean>;
  /** Stores a new policy version; returns the tenant with it. */
  putPolicy(tenantId: string, policy: Policy): Promise<Tenant | null>;

  /** Creates a key; `secret` is returned here only, the store keeps its SHA-256 hash. */
  createKey(tenantId: string, name: string): Promise<{ key: ApiKeyRecord; secret: string } | null>;
  listKeys(tenantId: string): Promise<ApiKeyRecord[]>;
  revokeKey(id: string): Promise<ApiKeyRecord | null>;
  /** Auth lookup by SHA-256 hex of the secret; revoked keys and deleted tenants are not returned. */
  findKeyByHash(hash: string): Promise<{ key: ApiKeyRecord; tenant: Tenant } | null>;
  /** The same lookup for many keys in one query (the auth cache's background refresh): found keys by hash. */
  findKeysByHash(hashes: readonly string[]): Promise<Map<string, { key: ApiKeyRecord; tenant: Tenant }>>;

  /** Idempotent on requestId (a replayed event is ignored). Tools and tests seed the ledger with it. */
  insertLedger(events: readonly LedgerEvent[]): Promise<void>;
  /** The same for events already made rows (ledgerRowJson in src/store/queries.ts): what the ledger writer writes. */
  insertLedgerRows(rows: readonly string[]): Promise<void>;
  spend(query: SpendQuery): Promise<SpendRow[]>;
  /** Cost of a tenant since an instant (seeds budget counters). */
  tenantCostSince(tenantId: string, since: Date): Promise<bigint>;
  /** Mean output tokens over the tenant's recent requests, or null (router's expected-output estimate). */
  recentOutputAverage(tenantId: string): Promise<number | null>;
  ledgerCount(filter?: { tenantId?: string }): Promise<number>;

  saveResponse(r: StoredResponse): Promise<void>;
  getResponse(tenantId: string, id: string): Promise<StoredResponse | null>;
  deleteResponse(tenantId: string, id: string): Promise<boolean>;
}
