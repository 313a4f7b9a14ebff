// Store contract on PGlite in memory.
import { createPgliteStore } from '../../src/store/pglite.js';
import { runStoreContract } from './store.contract.js';

runStoreContract('PGlite in memory', async () => {
  const store = createPgliteStore();
  return { store, cleanup: () => store.close() };
});
