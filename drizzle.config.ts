// drizzle-kit configuration: generates the SQL migrations in migrations/ from src/store/schema.ts (`npm run db:generate`).
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './src/store/schema.ts',
  out: './migrations',
  // Only generation reads this file; migrations are applied by Store.migrate() or `npm run db:migrate`.
  strict: true,
});
