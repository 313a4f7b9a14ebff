// Admin API on the real Postgres server through postgres.js (a private database for this file).
import { backends } from './harness.js';
import { describeAdminApi } from './admin-api.case.js';

describeAdminApi(backends.find((b) => b.name === 'postgres')!);
