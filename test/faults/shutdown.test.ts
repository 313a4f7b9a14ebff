// SIGTERM under load: the listener closes at once, in-flight streams run to their end, the queued ledger is flushed to
// Postgres, exit code 0. SIGKILL while Postgres is down: what reached the fsynced spool survives and is replayed at the
// next start.
import { request } from 'node:http';
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

// Streams far larger than the sockets' kernel buffers (gpt-4.1-mini allows 32768 output tokens, ~7.6 MiB of SSE): while
// the client holds them unread, the gateway cannot finish them, whatever the machine's speed.
const LONG = 32_000;
const streamBody = (i: number) => ({
  model: 'gpt-4.1-mini',
  messages: [{ role: 'user', content: `stream ${i}` }],
  max_tokens: LONG,
  stream: true,
  stream_options: { include_usage: true },
});

interface HeldStream {
  status: number;
  requestId: string | null;
  /** Starts reading; resolves with the whole body (or `cut: …` when the connection broke). */
  readAll(): Promise<string>;
}

/** Opens a stream, reads its head, and holds the body unread until readAll(). */
function holdStream(gw: GatewayProcess, key: string, i: number): Promise<HeldStream> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(streamBody(i));
    const req = request(`${gw.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
    });
    req.once('error', reject);
    req.once('response', (res) => {
      res.pause();
      const readAll = () =>
        new Promise<string>((done) => {
          const parts: Buffer[] = [];
          res.on('data', (b: Buffer) => parts.push(b));
          res.once('end', () => done(Buffer.concat(parts).toString()));
          res.once('error', (e) => done(`cut: ${String(e)}`));
          res.once('aborted', () => done('cut: aborted'));
          res.resume();
        });
      resolve({ status: res.statusCode ?? 0, requestId: (res.headers['x-request-id'] as string | undefined) ?? null, readAll });
    });
    req.end(payload);
  });
}

describe('shutdown', () => {
  it('SIGTERM: no new connections, in-flight streams finish, ledger flushed, exit 0', { timeout: 120_000 }, async () => {
    // Nothing is written before shutdown unless shutdown writes it: a long flush interval and a large batch.
    // A grace period far beyond what the streams need, so that only a real drain bug can cut them.
    const gw = await stack.gateway({
      direct: true,
      env: { LOG_LEVEL: 'info' }, // the access log too must be flushed on the way out
      config: {
        server: { shutdown_grace_ms: 60_000 },
        upstream: { connect_timeout_ms: 10_000, timeout_ms: 60_000, stream_idle_timeout_ms: 60_000 },
        ledger: { batch_size: 10_000, flush_interval_ms: 600_000, max_queue: 20_000 },
      },
    });
    const t = await createTenant(gw, 'sigterm', { baseline_model: 'gpt-4o-mini' });
    const warm: Answer[] = [];
    for (let i = 0; i < 10; i++) warm.push(await chat(gw, t.key, ask(`warm ${i}`)));
    expect(warm.every((x) => x.status === 200)).toBe(true);

    stack.sim.configure({ defaultOutputTokens: LONG });
    const held = await Promise.all(Array.from({ length: 6 }, (_, i) => holdStream(gw, t.key, i)));
    expect(held.map((h) => h.status)).toEqual(Array(6).fill(200));
    expect(await metricValue(gw, 'tollgate_ledger_queue_events')).toBeGreaterThanOrEqual(10);

    const exited = gw.stop('SIGTERM');
    // New connections are refused while six streams are still held open, unfinished.
    await until(async () => !(await accepts(gw.port)), 20);
    expect(gw.child.exitCode).toBe(null);
    const bodies = await Promise.all(held.map((h) => h.readAll()));
    const code = await exited;
    expect(code === 0 ? '' : `exit ${code}\n${gw.output()}`).toBe('');
    stack.sim.configure({ defaultOutputTokens: 40 });

    for (const text of bodies) {
      expect(text.startsWith('cut:') ? `${text}\n${gw.output()}` : '').toBe('');
      expect(text).not.toContain('"error"');
      expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    }
    const rows = await ledgerRows(stack.sql, t.tenantId);
    const ids = [...warm.map((x) => x.requestId), ...held.map((h) => h.requestId)];
    expect(new Set(rows.map((r) => r.request_id))).toEqual(new Set(ids));
    expect(rows.length).toBe(ids.length);
    expect(rows.every((r) => r.status === 200 && r.outcome === 'ok' && r.usage_source === 'reported')).toBe(true);
    expect(rows.filter((r) => r.output_tokens === LONG)).toHaveLength(6);
    // Every request's access line reached stdout: the last, unfilled log batch is flushed on the way out.
    const lines = gw.output().split('\n').filter((l) => l.includes('"msg":"request"'));
    const logged = new Set(lines.map((l) => (JSON.parse(l) as { requestId: string }).requestId));
    expect(ids.filter((id) => id === null || !logged.has(id))).toEqual([]);
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
