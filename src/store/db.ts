// The drizzle database type both backends share (postgres.js and PGlite speak the same dialect), and row mappers.
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { policySchema } from '../routing/policy.js';
import type { ApiKeyRecord, Store, Tenant } from './interface.js';
import type * as schema from './schema.js';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

/** A Store that also exposes its drizzle handle (readiness checks, tests, one-off admin queries). */
export interface SqlStore extends Store {
  readonly db: Db;
  /** Deletes stored responses past their expiry (already invisible to getResponse); returns how many. Run it now and then. */
  purgeExpiredResponses(): Promise<number>;
}

export interface TenantRow {
  id: string;
  name: string;
  disabled: boolean;
  policyVersion: number;
  createdAt: Date;
  policy: unknown;
}

/** Policies are validated on read too: a stored policy that no longer parses fails loudly instead of routing wrongly. */
export function toTenant(row: TenantRow): Tenant {
  return {
    id: row.id,
    name: row.name,
    disabled: row.disabled,
    policy: policySchema.parse(row.policy),
    policyVersion: row.policyVersion,
    createdAt: row.createdAt,
  };
}

export interface KeyRow {
  id: string;
  tenantId: string;
  name: string;
  prefix: string;
  createdAt: Date;
  revokedAt: Date | null;
}

export function toKey(row: KeyRow): ApiKeyRecord {
  return {
    id: row.id,
    tenantId: row.tenantId,
    name: row.name,
    prefix: row.prefix,
    createdAt: row.createdAt,
    revokedAt: row.revokedAt,
  };
}
