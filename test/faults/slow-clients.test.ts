// Clients that open long streams and never read: backpressure holds the gateway's memory bounded (RSS from /proc), the
// gateway keeps serving others, and the abandoned streams are metered as aborted with estimated usage.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayProcess } from '../support/process.js';
import { ask, chat, createTenant, ledgerRows, rssKiB, serverPid, startStack, until, type Stack, type TenantKey } from './support.js';

let stack: Stack;
let gw: GatewayProcess;
let tenant: TenantKey;
const STALLED = 20;
// gpt-4.1-mini allows 32768 output tokens, one SSE event each: a stream is ~7.5 MiB, more than a socket's kernel buffers.
const OUTPUT = 32_000;
const body = (i: number) => ({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: `long story ${i}` }], stream: true, stream_options: { include_usage: true } });

beforeAll(async () => {
  stack = await startStack({ defaultOutputTokens: OUTPUT });
  gw = await stack.gateway({ config: { upstream: { connect_timeout_ms: 5_000, timeout_ms: 60_000, stream_idle_timeout_ms: 60_000 } } });
  tenant = await createTenant(gw, 'slow-clients', { baseline_model: 'gpt-4o-mini' });
});
afterAll(async () => stack?.close());

/** Sends a streaming request on a raw socket, waits for the response head, then stops reading for good. */
function stalledStream(i: number): Promise<{ socket: Socket; requestId: string }> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body(i));
    const socket = connect(gw.port, '127.0.0.1');
    let head = '';
    socket.once('error', reject);
    socket.on('data', function onData(chunk: Buffer) {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause(); // never read again: the kernel buffers fill and the gateway must stop pulling
      const m = /\r\nx-request-id: ([^\r\n]+)/i.exec(head.slice(0, end));
      if (!head.startsWith('HTTP/1.1 200') || !m) reject(new Error(`unexpected head: ${head.slice(0, 200)}`));
      else resolve({ socket, requestId: m[1] });
    });
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${tenant.key}\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`,
    );
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('slow and stalled clients', () => {
  it('many never-read streams keep RSS far below what they would buffer; the rest keep being served; all metered as aborted', { timeout: 120_000 }, async () => {
    const full = await chat(gw, tenant.key, body(-1));
    expect(full.status).toBe(200);
    const streamBytes = Buffer.byteLength(full.text);
    expect(streamBytes).toBeGreaterThan(4 * 1024 * 1024);
    const pid = serverPid(gw);
    const before = rssKiB(pid);

    const stalled = await Promise.all(Array.from({ length: STALLED }, (_, i) => stalledStream(i)));
    // Let the upstream run as far as backpressure allows, sampling the gateway's memory on the way.
    let peak = before;
    for (let i = 0; i < 20; i++) {
      await sleep(150);
      peak = Math.max(peak, rssKiB(pid));
    }
    // Others are still served while the stalled streams hold their sockets.
    expect((await chat(gw, tenant.key, ask('still there?'))).status).toBe(200);
    const wouldBuffer = (STALLED * streamBytes) / 1024;
    const grown = peak - before;

    for (const x of stalled) x.socket.destroy();
    const ids = new Set(stalled.map((x) => x.requestId));
    await until(async () => (await ledgerRows(stack.sql, tenant.tenantId)).filter((r) => ids.has(r.request_id)).length === STALLED);
    const rows = (await ledgerRows(stack.sql, tenant.tenantId)).filter((r) => ids.has(r.request_id));
    expect(rows.every((r) => r.outcome === 'aborted' && r.usage_source === 'estimated')).toBe(true);
    const pulled = rows.map((r) => r.output_tokens);
    console.info(
      `stalled clients: ${STALLED} streams of ${(streamBytes / 1048576).toFixed(1)} MiB (${OUTPUT} tokens); gateway RSS ${before} → peak ${peak} KiB ` +
        `(+${grown} KiB; buffering everything would be +${Math.round(wouldBuffer)} KiB); tokens pulled per stalled stream ${Math.min(...pulled)}..${Math.max(...pulled)}`,
    );
    // Backpressure reached the upstream: each stalled stream stopped being read long before its end (what was pulled is
    // in kernel socket buffers and in flight), and what was delivered is what is charged.
    expect(pulled.every((n) => n > 0 && n < OUTPUT * 0.75)).toBe(true);
    // Memory: generous bounds, per stalled stream (kernel-side socket buffers are not RSS) and against buffering it all.
    expect(grown).toBeLessThan(wouldBuffer * 0.75);
    expect(grown).toBeLessThan(STALLED * 6 * 1024);
  });
});
