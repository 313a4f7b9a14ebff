// Failures below the admin API: a store error reaches the app's error handler (logged, OpenAI-shaped 500, no internals).
import { describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/interface.js';
import { admin, bearer, createTestApp } from './harness.js';

/** Only what these requests touch; every call fails like a dropped database connection. */
const brokenStore = {
  kind: 'postgres',
  listTenants: async () => {
    throw new Error('connection terminated unexpectedly (password=hunter2)');
  },
  findKeyByHash: async () => {
    throw new Error('connection terminated unexpectedly');
  },
} as unknown as Store;

describe('admin API when the store fails', () => {
  it('answers a shaped 500 without the cause, and the error is logged', async () => {
    const errors: object[] = [];
    const app = createTestApp({ store: brokenStore, errors });
    const res = await app.request('/admin/tenants', { headers: admin() });
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ error: { type: 'api_error', code: 'internal_error' } });
    expect(text).not.toContain('hunter2');
    expect(JSON.stringify(errors)).toContain('connection terminated');
  });

  it('answers 503 on /v1 for a key it has never seen, instead of a 401 that would make clients drop a good key', async () => {
    const app = createTestApp({ store: brokenStore });
    const res = await app.request('/v1/whoami', { headers: bearer('tg_somekey') });
    expect(res.status).toBe(503);
  });
});
