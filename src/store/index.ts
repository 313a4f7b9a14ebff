// Chooses the Store backend from the configuration: Postgres when DATABASE_URL is set, embedded PGlite otherwise.
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import type { SqlStore } from './db.js';
import { createPgliteStore } from './pglite.js';
import { createPostgresStore } from './postgres.js';

export type { Store } from './interface.js';
export type { SqlStore } from './db.js';
export { createPgliteStore } from './pglite.js';
export { createPostgresStore } from './postgres.js';
export { hashKeySecret } from './ids.js';

/** Where the embedded database lives when there is no DATABASE_URL. */
export function pgliteDataDir(config: Pick<Config, 'env'>): string {
  return join(config.env.TOLLGATE_DATA_DIR, 'pglite');
}

export function createStore(config: Pick<Config, 'env'>): SqlStore {
  const url = config.env.DATABASE_URL;
  return url !== undefined ? createPostgresStore({ url }) : createPgliteStore({ dataDir: pgliteDataDir(config) });
}
