// Store contract on the real Postgres server through postgres.js, in a private database.
import { createPostgresStore } from '../../src/store/postgres.js';
import { createTestDatabase } from '../support/services.js';
import { runStoreContract } from './store.contract.js';

runStoreContract('postgres.js', async () => {
  const db = await createTestDatabase();
  const store = createPostgresStore({ url: db.url });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await db.drop();
    },
  };
});
