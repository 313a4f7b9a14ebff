// A client that leaves while its request waits on the upstream: the gateway cancels the upstream call at once (the
// simulator sees its connection go before it answered) and meters the request as aborted. Through the real server,
// where the client's side is the connection's close (http/client-signal.ts), not a Request signal.
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';

let h: Harness;
let sql: postgres.Sql;

beforeAll(async () => {
  // The upstream takes 3 s before it answers; the client leaves long before.
  h = await startHarness({ clock: () => new Date('2026-11-25T12:00:00Z'), sim: { latencyMs: 3_000 } });
  sql = h.sql();
});
afterAll(async () => {
  await h?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each([
  { path: '/chat/completions', endpoint: 'chat', body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'take your time' }] } },
  { path: '/responses', endpoint: 'responses', body: { model: 'gpt-4o-mini', input: 'take your time' } },
])('a client leaving during the upstream call ($endpoint)', ({ path, endpoint, body }) => {
  it('cancels the upstream call and meters the request as aborted', async () => {
    const { tenant, key } = await h.createTenant(`leaver-${endpoint}`);
    const upstreamBefore = h.sim.records().length;
    const ac = new AbortController();
    const sent = fetch(`${h.baseURL}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: ac.signal,
    }).catch((e: unknown) => e);
    await sleep(300); // the request has reached the upstream, which is still "thinking"
    ac.abort();
    expect(await sent).toBeInstanceOf(Error);
    // The simulator records a request when its latency is over: aborted means the gateway had hung up by then.
    await expect.poll(() => h.sim.records().length, { timeout: 10_000 }).toBe(upstreamBefore + 1);
    expect(h.sim.records().at(-1)).toMatchObject({ aborted: true, status: 0 });
    await h.flushLedger();
    const rows = await sql<{ endpoint: string; outcome: string; status: number }[]>`
      select endpoint, outcome, status from usage_ledger where tenant_id = ${tenant.id}`;
    expect(rows).toEqual([{ endpoint, outcome: 'aborted', status: 499 }]);
  });
});
