// Store backed by PGlite, Postgres compiled to WASM and embedded in the process (used when DATABASE_URL is unset).
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import type { Db, SqlStore } from './db.js';
import { migrationsFolder } from './migrations.js';
import { createStoreQueries } from './queries.js';
import * as schema from './schema.js';

export interface PgliteStoreOptions {
  /** Directory of the database files; undefined keeps everything in memory (tests, demos). */
  dataDir?: string;
}

/** One process at a time may open a PGlite directory. */
export function createPgliteStore(options: PgliteStoreOptions = {}): SqlStore {
  if (options.dataDir !== undefined) mkdirSync(options.dataDir, { recursive: true });
  // Postgres' default 128 MB of shared buffers lives inside the WASM memory; a single-process store needs far less
  // (the embedded mode is for development and demos: about 100 MB less RSS).
  const pgOptions = { postgresqlconf: ['shared_buffers=16MB'] };
  const client = options.dataDir !== undefined ? new PGlite(options.dataDir, pgOptions) : new PGlite(pgOptions);
  const db: Db = drizzle({ client, schema });
  return {
    kind: 'pglite',
    db,
    async migrate() {
      await client.waitReady;
      await migrate(drizzle({ client }), { migrationsFolder });
    },
    async ping() {
      await db.execute(sql`select 1`);
    },
    async close() {
      if (!client.closed) await client.close();
    },
    ...createStoreQueries(db, (text, params) => client.query(text, params)),
  };
}
