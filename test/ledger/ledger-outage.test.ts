// A real Postgres outage under the ledger writer: the database refuses connections mid-run, events go to the spool,
// and once it is back every event is in usage_ledger exactly once with exact money.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LedgerEvent } from '../../src/metering/ledger-event.js';
import { createStoreLedgerSink, isPermanentLedgerError } from '../../src/metering/ledger-sink.js';
import { REJECTED_FILE, SPOOL_FILE } from '../../src/metering/ledger-spool.js';
import { encodeLedgerEvent } from './keyed-format.js';
import { createLedgerWriter } from '../../src/metering/ledger-writer.js';
import { ledgerRowJson } from '../../src/store/queries.js';
import { createPostgresStore } from '../../src/store/postgres.js';
import type { SqlStore } from '../../src/store/db.js';
import { createTestDatabase, DATABASE_URL } from '../support/services.js';
import { ledgerEvent, rawRows } from '../store/fixtures.js';
import { sql } from 'drizzle-orm';

describe('ledger writer against a real Postgres outage', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let store: SqlStore;
  let admin: postgres.Sql;
  let dbName: string;
  let spoolDir: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    dbName = new URL(db.url).pathname.slice(1);
    store = createPostgresStore({ url: db.url, max: 4, connectTimeoutS: 2 });
    await store.migrate();
    admin = postgres(DATABASE_URL, { max: 1, onnotice: () => {} });
    spoolDir = mkdtempSync(join(tmpdir(), 'tollgate-outage-'));
  });
  afterAll(async () => {
    await admin.unsafe(`ALTER DATABASE ${dbName} WITH ALLOW_CONNECTIONS true`).catch(() => {});
    await admin.end();
    await store.close();
    await db.drop();
    rmSync(spoolDir, { recursive: true, force: true });
  });

  /** The database stops accepting connections and its open sessions are killed: what a crash looks like to us. */
  async function takeDown(): Promise<void> {
    await admin.unsafe(`ALTER DATABASE ${dbName} WITH ALLOW_CONNECTIONS false`);
    await admin.unsafe(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${dbName}' AND pid <> pg_backend_pid()`);
  }
  async function bringBack(): Promise<void> {
    await admin.unsafe(`ALTER DATABASE ${dbName} WITH ALLOW_CONNECTIONS true`);
  }

  it('loses nothing and duplicates nothing across the outage', { timeout: 60_000 }, async () => {
    const writer = createLedgerWriter({
      sink: createStoreLedgerSink(store),
      isPermanentError: isPermanentLedgerError,
      spoolDir,
      batchSize: 25,
      flushIntervalMs: 30,
      maxQueue: 500,
      retryMinMs: 50,
      retryMaxMs: 200,
      // A query stuck on a connection killed under it must not stall the test for the 30 s default.
      writeTimeoutMs: 5_000,
    });
    const sent: LedgerEvent[] = [];
    const send = (n: number) => {
      for (let i = 0; i < n; i++) {
        const ev = ledgerEvent({ tenantId: 'ten_outage', costPico: 100_000_000_000n + BigInt(sent.length), startedAt: new Date(Date.UTC(2026, 10, 1, 0, 0, sent.length)) });
        sent.push(ev);
        writer.enqueue(ev);
      }
    };

    send(100);
    await writer.flush();
    expect(await store.ledgerCount({ tenantId: 'ten_outage' })).toBe(100);

    await takeDown();
    await expect(store.ping()).rejects.toThrow();
    for (let round = 0; round < 6; round++) {
      send(50);
      await new Promise((r) => setTimeout(r, 40));
    }
    await writer.flush();
    expect(writer.stats().spooled).toBeGreaterThanOrEqual(300);
    // A replay of already-written events while down: must not double count later.
    for (const ev of sent.slice(0, 20)) writer.enqueue(ev);

    await bringBack();
    await vi.waitFor(
      async () => {
        expect(await store.ledgerCount({ tenantId: 'ten_outage' })).toBe(400);
        expect(writer.stats()).toMatchObject({ queued: 0, spooled: 0 });
      },
      { timeout: 20_000, interval: 100 },
    );
    await writer.close();

    const [row] = await rawRows(
      store,
      sql`select count(*)::int as n, count(distinct request_id)::int as d, sum(cost_pico)::text as total from usage_ledger where tenant_id = 'ten_outage'`,
    );
    expect(Number(row.n)).toBe(400);
    expect(Number(row.d)).toBe(400);
    expect(BigInt(String(row.total))).toBe(sent.reduce((s, e) => s + e.costPico, 0n));
    const whole = await store.spend({ from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-11-02T00:00:00Z'), tenantId: 'ten_outage', groupBy: [] });
    expect(whole[0].costPico).toBe(BigInt(String(row.total)));
    expect(whole[0].requests).toBe(400);
  });

  it('replays a spool of rows and one left by an earlier version (keyed events) into Postgres alike', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-oldspool-'));
    try {
      const old = [1, 2, 3].map((i) => ledgerEvent({ tenantId: 'ten_oldspool', costPico: 7_000_000_000n + BigInt(i) }));
      const rows = [4, 5].map((i) => ledgerEvent({ tenantId: 'ten_oldspool', costPico: 7_000_000_000n + BigInt(i) }));
      const lines = [...old.map(encodeLedgerEvent), ...rows.map(ledgerRowJson), '["req_torn","ten_oldsp'];
      writeFileSync(join(dir, SPOOL_FILE), `${lines.join('\n')}\n`);
      const writer = createLedgerWriter({ sink: createStoreLedgerSink(store), isPermanentError: isPermanentLedgerError, spoolDir: dir, batchSize: 25, flushIntervalMs: 60_000, maxQueue: 500 });
      await writer.flush();
      await writer.close();
      const [row] = await rawRows(store, sql`select count(*)::int as n, sum(cost_pico)::text as total from usage_ledger where tenant_id = 'ten_oldspool'`);
      expect(Number(row.n)).toBe(5);
      expect(BigInt(String(row.total))).toBe([...old, ...rows].reduce((s, e) => s + e.costPico, 0n));
      expect(readFileSync(join(dir, REJECTED_FILE), 'utf8')).toBe('["req_torn","ten_oldsp\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
