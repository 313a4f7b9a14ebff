// The ledger's Postgres statements are set by the batch size and interval, not by the request rate: under steady
// concurrent traffic the writer must not chase the queue with a statement per few requests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';

let h: Harness;
const INTERVAL = 200;
let statements = 0;
let rows = 0;

beforeAll(async () => {
  h = await startHarness({ clock: () => new Date('2026-11-25T12:00:00Z'), overrides: { ledger: { batch_size: 250, flush_interval_ms: INTERVAL, max_queue: 20_000 } } });
  // The ledger writer's sink writes rows (insertLedgerRows), a statement per call (a batch stays under its 1000 rows).
  const store = h.built.deps.store as unknown as { insertLedgerRows: (rows: readonly string[]) => Promise<void> };
  const insert = store.insertLedgerRows.bind(store);
  store.insertLedgerRows = (batch) => {
    statements++;
    rows += batch.length;
    return insert(batch);
  };
});
afterAll(async () => h?.close());

describe('ledger batching', () => {
  it('writes at most one statement per interval tick plus one per full batch, however many requests arrive', async () => {
    const { key, tenant } = await h.createTenant('batching');
    const body = JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    const N = 1000;
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next++ < N) {
          const r = await fetch(`${h.baseURL}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body });
          await r.text();
        }
      }),
    );
    // The elapsed time only sizes the bound (ticks that can have fired); nothing here asserts a speed.
    const ticks = Math.ceil((performance.now() - t0) / INTERVAL) + 1;
    await h.flushLedger();
    expect(rows).toBe(N);
    expect(statements).toBeLessThanOrEqual(ticks + Math.ceil(N / 250) + 1);
    expect(statements).toBeLessThan(N / 10);
    expect(await h.built.deps.store.ledgerCount({ tenantId: tenant.id })).toBe(N);
  });
});
