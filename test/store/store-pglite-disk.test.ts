// Store contract on PGlite files in a temporary directory, plus persistence across a reopen.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { policySchema } from '../../src/routing/policy.js';
import { createPgliteStore } from '../../src/store/pglite.js';
import { ledgerEvent } from './fixtures.js';
import { runStoreContract } from './store.contract.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'tollgate-pglite-'));
  dirs.push(d);
  return join(d, 'pglite');
};

runStoreContract('PGlite on disk', async () => {
  const store = createPgliteStore({ dataDir: tempDir() });
  return { store, cleanup: () => store.close() };
});

describe('PGlite on disk: persistence', () => {
  it('keeps tenants, keys and ledger rows across close and reopen', { timeout: 180_000 }, async () => {
    const dataDir = tempDir();
    const first = createPgliteStore({ dataDir });
    await first.migrate();
    const t = await first.createTenant({ name: 'Persist', policy: policySchema.parse({}) });
    const k = await first.createKey(t.id, 'k');
    const ev = ledgerEvent({ tenantId: t.id });
    await first.insertLedger([ev]);
    await first.close();

    const second = createPgliteStore({ dataDir });
    await second.migrate();
    expect(await second.getTenant(t.id)).toEqual(t);
    expect((await second.listKeys(t.id)).map((x) => x.id)).toEqual([k!.key.id]);
    await second.insertLedger([ev]);
    expect(await second.ledgerCount({ tenantId: t.id })).toBe(1);
    await second.close();
  });
});
