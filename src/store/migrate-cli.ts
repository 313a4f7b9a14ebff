// `npm run db:migrate`: applies the committed migrations to the configured database (DATABASE_URL or embedded PGlite).
import { loadConfig } from '../config/index.js';
import { createStore } from './index.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const store = await createStore(config);
  try {
    await store.migrate();
    process.stdout.write(`migrations applied (${store.kind})\n`);
  } finally {
    await store.close();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`migration failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
