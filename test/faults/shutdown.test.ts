// SIGTERM under load: the listener closes at once, in-flight streams run to their end, the queued ledger is flushed to
// Postgres, exit code 0. SIGKILL while Postgres is down: what reached the fsynced spool survives and is replayed at the
// next start.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayProcess } from '../support/process.js';
import { ask, chat, createTenant, ledgerRows, metricValue, startStack, until, type Answer, type Stack } from './support.js';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => stack?.close());

/** Resolves true when a fresh TCP connection to the port is accepted, false when refused. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

const streamBody = (i: number) => ask(`stream ${i}`, { max_tokens: 40, stream: true, stream_options: { include_usage: true } });

describe('shutdown', () => {
  it('SIGTERM: no new connections, in-flight streams finish, ledger flushed, exit 0', { timeout: 120_000 }, async () => {
    // Nothing is written before shutdown unless shutdown writes it: a long flush interval and a large batch.
    // A grace period far beyond the streams' length: on a loaded machine the simulator's pacing stretches.
    const gw = await stack.gateway({
      config: { server: { shutdown_grace_ms: 60_000 }, ledger: { batch_size: 10_000, flush_interval_ms: 600_000, max_queue: 20_000 } },
    });
    const t = await createTenant(gw, 'sigterm', { baseline_model: 'gpt-4o-mini' });
    const warm: Answer[] = [];
    for (let i = 0; i < 10; i++) warm.push(await chat(gw, t.key, ask(`warm ${i}`)));
    expect(warm.every((x) => x.status === 200)).toBe(true);

    // Slow streams: 40 chunks 50 ms apart, each about two seconds long (longer on a busy machine).
    stack.sim.configure({ chunkDelayMs: 50 });
    let started = 0;
    let finished = 0;
    const inflight = Array.from({ length: 12 }, async (_, i) => {
      const res = await fetch(`${gw.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' },
        body: JSON.stringify(streamBody(i)),
      });
      started++;
      // A stream cut by the shutdown is a failure to report, not an unhandled rejection.
      const text = await res.text().catch((e: unknown) => `cut: ${String(e)}`);
      finished++;
      return { status: res.status, text, requestId: res.headers.get('x-request-id') };
    });
    await until(() => started === 12, 20);
    expect(await metricValue(gw, 'tollgate_ledger_queue_events')).toBeGreaterThanOrEqual(10);

    const exited = gw.stop('SIGTERM');
    await until(async () => !(await accepts(gw.port)), 20);
    // The listener closed while streams were still running.
    expect(finished).toBeLessThan(12);
    const streams = await Promise.all(inflight);
    expect(await exited).toBe(0);
    stack.sim.configure({ chunkDelayMs: 0 });

    for (const s of streams) {
      expect(s.status).toBe(200);
      expect(s.text.startsWith('cut:') ? `${s.text}\n${gw.output()}` : '').toBe('');
      expect(s.text).not.toContain('"error"');
      expect(s.text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    }
    const rows = await ledgerRows(stack.sql, t.tenantId);
    const ids = [...warm.map((x) => x.requestId), ...streams.map((s) => s.requestId)];
    expect(new Set(rows.map((r) => r.request_id))).toEqual(new Set(ids));
    expect(rows.length).toBe(ids.length);
    expect(rows.every((r) => r.status === 200 && r.outcome === 'ok' && r.usage_source === 'reported')).toBe(true);
  });

  it('SIGKILL with Postgres down: spooled events survive and are replayed by the next process on the same data dir', { timeout: 60_000 }, async () => {
    const dataDirEnv = { TOLLGATE_DATA_DIR: `${stack.dirs[0] ?? '/tmp'}/sigkill-data-${Date.now()}` };
    const gw: GatewayProcess = await stack.gateway({ env: dataDirEnv });
    const t = await createTenant(gw, 'sigkill', { baseline_model: 'gpt-4o-mini' });
    expect((await chat(gw, t.key, ask('auth cache warm-up'))).status).toBe(200);
    await until(async () => (await ledgerRows(stack.sql, t.tenantId)).length === 1);

    await stack.cutDatabase();
    const down: Answer[] = [];
    for (let i = 0; i < 30; i++) down.push(await chat(gw, t.key, ask(`while down ${i}`)));
    expect(down.every((x) => x.status === 200)).toBe(true);
    // Wait until the writer has moved them all to the spool (fsynced), then kill without warning.
    await until(async () => (await metricValue(gw, 'tollgate_ledger_spooled_events')) === 30);
    expect(await gw.stop('SIGKILL')).toBe(null);
    await stack.restoreDatabase();

    const next = await stack.gateway({ env: dataDirEnv });
    await until(async () => (await ledgerRows(stack.sql, t.tenantId)).length >= 31);
    const rows = await ledgerRows(stack.sql, t.tenantId);
    expect(rows.length).toBe(31);
    expect(new Set(rows.map((r) => r.request_id)).size).toBe(31);
    expect(rows.map((r) => r.request_id)).toEqual(expect.arrayContaining(down.map((x) => x.requestId)));
    await next.stop('SIGTERM');
  });
});
