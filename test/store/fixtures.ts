// Test data for store and ledger tests: ledger events with unique ids, raw SQL access to a store's database.
import { randomBytes } from 'node:crypto';
import { sql, type SQL } from 'drizzle-orm';
import type { LedgerEvent } from '../../src/metering/ledger-event.js';
import type { SqlStore } from '../../src/store/db.js';

let seq = 0;

export function ledgerEvent(overrides: Partial<LedgerEvent> = {}): LedgerEvent {
  seq += 1;
  return {
    requestId: `req_${randomBytes(8).toString('hex')}_${seq}`,
    tenantId: 'ten_fixture',
    keyId: 'key_fixture',
    endpoint: 'chat',
    route: 'auto',
    provider: 'deepseek',
    model: 'deepseek-flash',
    stream: false,
    inputTokens: 120,
    cachedInputTokens: 20,
    outputTokens: 300,
    reasoningTokens: 100,
    usageSource: 'reported',
    costPico: 123_456_789n,
    baselineCostPico: 987_654_321n,
    savedResponseCachePico: 0n,
    savedPromptCachePico: 5_000n,
    savedOffPeakPico: 7_000n,
    priceVersion: 'deepseek-flash@2026-09-10',
    status: 200,
    outcome: 'ok',
    errorCode: null,
    cacheHit: false,
    attempts: [{ provider: 'deepseek', model: 'deepseek-flash', status: 200, error: null, latencyMs: 321 }],
    latencyMs: 350,
    ttftMs: null,
    startedAt: new Date('2026-11-10T12:00:00Z'),
    ...overrides,
  };
}

/** Rows of a raw query, whichever driver (postgres.js returns an array, PGlite an object with rows). */
export async function rawRows(store: SqlStore, query: SQL): Promise<Record<string, unknown>[]> {
  const r: unknown = await store.db.execute(query);
  if (Array.isArray(r)) return r as Record<string, unknown>[];
  return (r as { rows: Record<string, unknown>[] }).rows;
}

/** Every row of every table of the public schema, as text: to prove a secret is stored nowhere. */
export async function dumpDatabase(store: SqlStore): Promise<string> {
  const tables = await rawRows(
    store,
    sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
  );
  let out = '';
  for (const t of tables) {
    const rows = await rawRows(store, sql`select t::text as row from ${sql.identifier(String(t.table_name))} t`);
    out += rows.map((r) => String(r.row)).join('\n');
  }
  return out;
}
