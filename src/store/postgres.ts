// Store backed by a Postgres server through postgres.js (used when DATABASE_URL is set).
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import { migrate } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import type { Db, SqlStore } from './db.js';
import { migrationsFolder } from './migrations.js';
import { createStoreQueries } from './queries.js';
import * as schema from './schema.js';

/** Advisory lock id held while migrating, so that instances starting together apply each migration once. */
const MIGRATION_LOCK_ID = 7_461_071_2026;

export interface PostgresStoreOptions {
  url: string;
  /** Pool size (default 10). */
  max?: number;
  /** Seconds to wait for a connection; short, so that an outage reaches the ledger spool quickly (default 5). */
  connectTimeoutS?: number;
}

export function createPostgresStore(options: PostgresStoreOptions): SqlStore {
  const client = postgres(options.url, {
    max: options.max ?? 10,
    connect_timeout: options.connectTimeoutS ?? 5,
    idle_timeout: 60,
    onnotice: () => {},
  });
  const db: Db = drizzle({ client, schema });
  return {
    kind: 'postgres',
    db,
    async migrate() {
      // One dedicated connection: the advisory lock and the migrator's transaction must share a session.
      const one = postgres(options.url, { max: 1, connect_timeout: options.connectTimeoutS ?? 5, onnotice: () => {} });
      try {
        await one.unsafe(`SELECT pg_advisory_lock(${MIGRATION_LOCK_ID})`);
        await migrate(drizzle({ client: one }), { migrationsFolder });
      } finally {
        // Ending the session releases the advisory lock.
        await one.end({ timeout: 5 });
      }
    },
    async ping() {
      await db.execute(sql`select 1`);
    },
    async close() {
      await client.end({ timeout: 5 });
    },
    // Unprepared: the ledger's statement text varies with its row count, and postgres.js would keep each prepared.
    ...createStoreQueries(db, (text, params) => client.unsafe(text, params, { prepare: false })),
  };
}
