// The operator CLI: `bin/tollgate.mjs` spawned against a private test database, plus error paths run in-process.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/index.js';
import { hashKey } from '../../src/http/auth.js';
import type { Store } from '../../src/store/interface.js';
import { createPostgresStore } from '../../src/store/index.js';
import { createTestDatabase } from '../support/services.js';
import { ledgerEvent } from './harness.js';

const run = promisify(execFile);

describe('tollgate CLI', () => {
  let db: { url: string; drop: () => Promise<void> };
  let store: Store;
  let dir: string;

  const cli = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    try {
      const { stdout, stderr } = await run(process.execPath, ['bin/tollgate.mjs', ...args], {
        env: { ...process.env, DATABASE_URL: db.url, TOLLGATE_CONFIG: 'config/tollgate.yaml' },
      });
      return { code: 0, stdout, stderr };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { code: err.code, stdout: err.stdout, stderr: err.stderr };
    }
  };

  /** main() in this process, against the same database: for the error paths, without a process per case. */
  const inProcess = async (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> => {
    let stdout = '';
    let stderr = '';
    const code = await main(args, {
      io: { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) },
      loadConfig: () => loadConfig({ env: { DATABASE_URL: db.url, TOLLGATE_CONFIG: 'config/tollgate.yaml' } }),
      openStore: () => createPostgresStore({ url: db.url, max: 1 }),
      now: () => new Date('2026-11-20T12:00:00Z'),
    });
    return { code, stdout, stderr };
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = mkdtempSync(join(tmpdir(), 'tg-cli-'));
    const migrated = await cli('migrate');
    expect(migrated).toMatchObject({ code: 0, stdout: 'migrations applied (postgres)\n' });
    store = createPostgresStore({ url: db.url, max: 2 });
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('round trip: tenant, key, policy, spend and revocation (the binary for migrate, create and spend)', { timeout: 90_000 }, async () => {
    const created = await cli('tenants', 'create', 'Cli Corp', '--json');
    expect(created.code).toBe(0);
    const tenant = JSON.parse(created.stdout) as { id: string; name: string };
    expect(tenant.name).toBe('Cli Corp');

    // Process start dominates a spawn (seconds on a loaded 2-core box): the binary runs migrate, create and spend; the
    // other steps run main() in-process against the same database.
    const key = JSON.parse((await inProcess('keys', 'create', tenant.id, 'deploy', '--json')).stdout) as { id: string; key: string };
    expect((await store.findKeyByHash(hashKey(key.key)))?.tenant.id).toBe(tenant.id);

    const policyFile = join(dir, 'policy.yaml');
    writeFileSync(policyFile, 'routes:\n  cheap:\n    strategy: cheapest\nbudgets:\n  monthly:\n    limit_usd: "250"\n');
    const [set, listed] = await Promise.all([inProcess('policy', 'set', tenant.id, policyFile), inProcess('tenants', 'list')]);
    expect(set).toMatchObject({ code: 0 });
    expect(set.stdout).toMatch(/version 2/);
    expect(listed.stdout).toMatch(new RegExp(`${tenant.id}\\s+Cli Corp\\s+active`));
    expect((await store.getTenant(tenant.id))?.policy.budgets.monthly).toEqual({ limit_usd: '250', mode: 'hard' });

    await store.insertLedger([
      ledgerEvent(tenant.id, key.id, new Date('2026-11-18T10:00:00Z'), 1_500_000_000n),
      ledgerEvent(tenant.id, key.id, new Date('2026-11-19T10:00:00Z'), 250_000_000n),
    ]);
    const spend = await cli('spend', '--from', '2026-11-01', '--to', '2026-11-30', '--tenant', tenant.id, '--group-by', 'day', '--json');
    const report = JSON.parse(spend.stdout) as { rows: { day: string; cost_usd: string }[]; totals: { cost_usd: string } };
    expect(report.totals.cost_usd).toBe('0.001750000000');
    expect(report.rows.map((r) => [r.day, r.cost_usd])).toEqual([
      ['2026-11-18', '0.001500000000'],
      ['2026-11-19', '0.000250000000'],
    ]);

    const revoked = await inProcess('keys', 'revoke', key.id);
    expect(revoked.code).toBe(0);
    expect(await store.findKeyByHash(hashKey(key.key))).toBeNull();
  });

  it('prints tables, CSV and FOCUS for spend', async () => {
    const t = await store.createTenant({ name: 'Table Co', policy: loadConfig({ env: { TOLLGATE_CONFIG: 'config/tollgate.yaml' } }).file.default_policy });
    await store.insertLedger([ledgerEvent(t.id, 'key_x', new Date('2026-11-19T10:00:00Z'), 42n)]);
    const table = await inProcess('spend', '--tenant', t.id, '--group-by', 'day,model');
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^DAY\s+MODEL\s+REQUESTS/);
    expect(table.stdout).toMatch(/2026-11-19\s+gpt-4o-mini\s+1\s/);
    expect(table.stdout).toMatch(/TOTAL\s.*0\.000000000042/);
    const csv = await inProcess('spend', '--tenant', t.id, '--format', 'csv');
    expect(csv.stdout.split('\n')[0]).toMatch(/^day,/);
    const focus = await inProcess('spend', '--tenant', t.id, '--format', 'focus', '--group-by', 'day,tenant,provider,model');
    expect(focus.stdout).toContain('BilledCost');
    expect(focus.stdout).toContain('Table Co');
  });

  it('fails clearly: bad policy names the field, unknown ids, usage errors', async () => {
    const t = JSON.parse((await inProcess('tenants', 'create', 'Err Co', '--json')).stdout) as { id: string };
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ routes: { auto: { strategy: 'fastest' } } }));
    const r1 = await inProcess('policy', 'set', t.id, bad);
    expect(r1.code).toBe(1);
    expect(r1.stderr).toContain('routes.auto.strategy');

    expect((await inProcess('tenants', 'show', 'ten_nope')).code).toBe(1);
    expect((await inProcess('keys', 'revoke', 'key_nope')).stderr).toMatch(/No key/);
    expect((await inProcess('keys', 'create', t.id)).code).toBe(2);
    expect((await inProcess('frobnicate')).code).toBe(2);
    expect((await inProcess('spend', '--format', 'xml')).stderr).toMatch(/format/);
    expect((await inProcess('tenants', 'list', '--bogus')).code).toBe(2);
    const disabled = JSON.parse((await inProcess('tenants', 'disable', t.id, '--json')).stdout) as { disabled: boolean };
    expect(disabled.disabled).toBe(true);
    expect((await inProcess('tenants', 'delete', t.id)).code).toBe(0);
    expect((await inProcess('tenants', 'show', t.id)).code).toBe(1);
  });
});
