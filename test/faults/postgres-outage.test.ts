// Postgres cut under load (its connections killed and refused), then restored: the gateway process keeps serving, the
// ledger spools, and afterwards every request the client saw is in usage_ledger exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayProcess } from '../support/process.js';
import { ask, chat, createTenant, ledgerRows, metricValue, startStack, until, type Stack, type TenantKey } from './support.js';

let stack: Stack;
let gw: GatewayProcess;
let tenant: TenantKey;

beforeAll(async () => {
  stack = await startStack();
  gw = await stack.gateway();
  tenant = await createTenant(gw, 'pg-outage', { baseline_model: 'gpt-4o-mini' });
});
afterAll(async () => stack?.close());

describe('Postgres outage under load', () => {
  it('serves through the outage and meters every request exactly once after recovery', { timeout: 240_000 }, async () => {
    const seen: Array<{ status: number; requestId: string | null }> = [];
    let phase: 'before' | 'down' | 'after' = 'before';
    const servedDuring = () => seen.filter((s, i) => s.status === 200 && downIdx <= i).length;
    let downIdx = Number.POSITIVE_INFINITY;
    let stop = false;
    // Six clients in a loop; which phase a request falls into does not matter, only that all of them are metered.
    const worker = async (w: number) => {
      for (let i = 0; !stop && i < 400; i++) {
        const stream = (i + w) % 3 === 0;
        const body = ask(`worker ${w} request ${i} ${phase}`, stream ? { stream: true, stream_options: { include_usage: true } } : {});
        const a = await chat(gw, tenant.key, body);
        seen.push({ status: a.status, requestId: a.requestId });
      }
    };
    const workers = Array.from({ length: 6 }, (_, w) => worker(w));

    await until(() => seen.length >= 30, 100, 'requests before the cut');
    phase = 'down';
    downIdx = seen.length;
    await stack.cutDatabase();
    // Served while Postgres refuses connections, and the ledger is holding them in the spool.
    await until(() => servedDuring() >= 90, 100, () => `90 served during the outage (statuses seen: ${[...new Set(seen.map((x) => x.status))].join(',')})`);
    await until(async () => ((await metricValue(gw, 'tollgate_ledger_spooled_events')) ?? 0) > 0, 100, 'events in the spool');
    phase = 'after';
    await stack.restoreDatabase();
    const afterIdx = seen.length;
    await until(() => seen.length >= afterIdx + 30, 100, 'requests after the restore');
    stop = true;
    await Promise.all(workers);

    expect(seen.filter((s) => s.status !== 200)).toEqual([]);
    const ids = seen.map((s) => s.requestId);
    expect(ids.every((id) => typeof id === 'string')).toBe(true);
    expect(new Set(ids).size).toBe(seen.length);

    await until(async () => (await ledgerRows(stack.sql, tenant.tenantId)).length >= seen.length, 200, 'every request in the ledger');
    await until(async () => (await metricValue(gw, 'tollgate_ledger_spooled_events')) === 0, 200, 'an empty spool');
    const rows = await ledgerRows(stack.sql, tenant.tenantId);
    expect(rows.length).toBe(seen.length);
    expect(new Set(rows.map((r) => r.request_id))).toEqual(new Set(ids));
    expect(rows.every((r) => r.status === 200 && r.outcome === 'ok' && r.usage_source === 'reported' && BigInt(r.cost_pico) > 0n)).toBe(true);
    // The simulator answered exactly these requests: none was sent twice upstream because of the outage.
    const upstream = stack.sim.records().filter((r) => r.status === 200);
    expect(upstream.length).toBe(seen.length);
    console.info(`postgres outage: sent ${seen.length}, served during the outage ${servedDuring()}, metered ${rows.length}`);
  });
});
