// Chooses the Store backend from the configuration: Postgres when DATABASE_URL is set, embedded PGlite otherwise.
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import type { SqlStore } from './db.js';
import { createPostgresStore } from './postgres.js';

export type { Store } from './interface.js';
export type { SqlStore } from './db.js';
export { createPostgresStore } from './postgres.js';
export { hashKeySecret } from './ids.js';

/** Where the embedded database lives when there is no DATABASE_URL. */
export function pgliteDataDir(config: Pick<Config, 'env'>): string {
  return join(config.env.TOLLGATE_DATA_DIR, 'pglite');
}

/** PGlite (its WebAssembly Postgres is some 45 MB of RSS once imported) is loaded only when it is the store. */
export async function createStore(config: Pick<Config, 'env'>): Promise<SqlStore> {
  const url = config.env.DATABASE_URL;
  if (url !== undefined) return createPostgresStore({ url });
  const { createPgliteStore } = await import('./pglite.js');
  return createPgliteStore({ dataDir: pgliteDataDir(config) });
}
