// meter() prices a request at once (the answer's cost header needs it) and records it (ledger, metrics, settlement,
// access log) at the end of the event-loop turn, after the answer built in that turn has been written: none of the
// recording delays the client, and the latency recorded runs to the answer's last write.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { meter } from '../../src/gateway/meter.js';
import { startHarness, type Harness } from '../support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ store: 'pglite' });
});
afterAll(async () => {
  await h?.close();
});

describe('meter()', () => {
  it('returns the priced event at once and records it at the end of the turn, exactly once', async () => {
    const { tenant } = await h.createTenant('meter-turn');
    const [key] = await h.built.deps.store.listKeys(tenant.id);
    const deps = h.built.deps;
    const model = deps.config.catalog.resolve('gpt-4o-mini');
    expect(model).toBeTruthy();
    const queued = () => deps.ledger.stats().queued;
    const before = queued();
    const t0 = performance.now();
    const base = { requestId: 'req_meter_turn', auth: { tenant, key }, endpoint: 'chat' as const, route: null, stream: false, attempts: [], startedAt: deps.clock(), t0, admission: null };
    const ev = meter(deps, base, {
      model: model ?? null,
      tokens: { input: 1000, cachedInput: 0, output: 500, reasoning: 0 },
      usageSource: 'reported',
      status: 200,
      outcome: 'ok',
      errorCode: null,
      firstByteAt: t0,
    });
    expect(ev.costPico > 0n).toBe(true); // priced now: the answer's header carries it
    expect(queued()).toBe(before); // nothing recorded within the turn that builds the answer
    await new Promise((r) => setImmediate(r));
    expect(queued()).toBe(before + 1);
    await h.flushLedger();
    const metrics = await deps.metrics.metricsText();
    expect(metrics).toMatch(/tollgate_requests_total\{[^}]*tenant="meter-turn"[^}]*\} 1/);
    await new Promise((r) => setImmediate(r));
    expect(queued()).toBe(0); // recorded once
  });
});
