// Where the committed drizzle-kit migrations live (resolved from this file, so it works from any working directory).
import { fileURLToPath } from 'node:url';

export const migrationsFolder = fileURLToPath(new URL('../../migrations', import.meta.url));
