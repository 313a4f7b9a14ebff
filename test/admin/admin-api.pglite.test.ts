// Admin API on the embedded PGlite store (in memory).
import { backends } from './harness.js';
import { describeAdminApi } from './admin-api.case.js';

describeAdminApi(backends.find((b) => b.name === 'pglite')!);
