// How a stream leaves the gateway (src/http/sse-out.ts): on the Node server, written straight onto the response, so
// that the status line, the headers and the first event reach the client in one piece; through app.request (no Node
// response), the same events as a web ReadableStream, with the same cancellation and metering.
import { connect, Socket } from 'node:net';
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';

let h: Harness;
let key: string;
let tenantId: string;
let sql: postgres.Sql;

beforeAll(async () => {
  // 80 ms between events: the first event is alone on the wire long before the second.
  h = await startHarness({ clock: () => new Date('2026-11-25T12:00:00Z'), sim: { chunkDelayMs: 80 } });
  sql = h.sql();
  const t = await h.createTenant('sse-out');
  key = t.key;
  tenantId = t.tenant.id;
});
afterAll(async () => {
  await h?.close();
});

const body = (maxTokens: number) => JSON.stringify({ model: 'gpt-4o-mini', stream: true, max_tokens: maxTokens, messages: [{ role: 'user', content: 'a story' }] });

type Chunk = { chunk: Buffer | string };
type SocketInternals = {
  _write(chunk: Buffer | string, encoding: BufferEncoding, cb: (e?: Error | null) => void): void;
  _writev(chunks: Chunk[], cb: (e?: Error | null) => void): void;
};

/**
 * The gateway's socket writes (the harness serves in this process) on the connection of one stream request, sent by a
 * raw TCP client that reads until the second event: each entry is what one write handed to the socket.
 */
async function serverWrites(payload: string): Promise<string[]> {
  const proto = Socket.prototype as unknown as SocketInternals;
  const { _write, _writev } = proto;
  const writes: string[] = [];
  let clientPort = -1;
  const ours = (s: Socket) => s.remotePort === clientPort && s.remoteAddress === '127.0.0.1';
  proto._write = function (this: Socket, chunk, encoding, cb) {
    if (ours(this)) writes.push(chunk.toString());
    return _write.call(this, chunk, encoding, cb);
  };
  proto._writev = function (this: Socket, chunks, cb) {
    if (ours(this)) writes.push(chunks.map((c) => c.chunk.toString()).join(''));
    return _writev.call(this, chunks, cb);
  };
  try {
    const { port } = new URL(h.url);
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        clientPort = socket.localPort!;
        socket.write(
          `POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${key}\r\ncontent-type: application/json\r\n` +
            `content-length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`,
        );
      });
      let received = '';
      socket.on('data', (d) => {
        received += d.toString('utf8');
        if ((received.match(/data: \{/g) ?? []).length >= 2) {
          socket.destroy();
          resolve();
        }
      });
      socket.once('error', reject);
    });
  } finally {
    proto._write = _write;
    proto._writev = _writev;
  }
  return writes;
}

/** Ledger rows of this file's tenant with that outcome, once every queued event is written. */
async function meteredRows(outcome: string): Promise<number> {
  await h.flushLedger();
  const [row] = await sql<{ n: number }[]>`select count(*)::int as n from usage_ledger where tenant_id = ${tenantId} and outcome = ${outcome}`;
  return row.n;
}

describe('a stream on the Node server', () => {
  it('sends the status line, the headers and the first event in one write', async () => {
    const writes = await serverWrites(body(40));
    const first = writes[0] ?? '';
    expect(first).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(first.toLowerCase()).toContain('content-type: text/event-stream');
    expect(first.toLowerCase()).toContain('x-tollgate-provider: openai');
    expect(first.toLowerCase()).toMatch(/x-request-id: req_[0-9a-f]{32}\r\n/);
    // After the header block: the first event (chunked encoding), and nothing of the second, 80 ms away.
    expect(first.slice(first.indexOf('\r\n\r\n') + 4).match(/data: \{/g) ?? []).toHaveLength(1);
    // The next write is the second event alone.
    expect(writes[1]).toMatch(/^[0-9a-f]+\r\ndata: \{/);
  });
});

describe('a stream through app.request (no Node response)', () => {
  const request = (maxTokens: number, signal?: AbortSignal) =>
    h.app.request('/v1/chat/completions', { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body(maxTokens), signal });

  it('comes as a readable stream of the same events, ends with [DONE], and is metered', async () => {
    const okBefore = await meteredRows('ok');
    const res = await request(3);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(res.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
    const text = await res.text();
    expect(text.startsWith('data: {')).toBe(true);
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    const chunks = text.split('\n\n').filter((e) => e.startsWith('data: {')).map((e) => JSON.parse(e.slice(6)) as { choices: unknown[] });
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    await expect.poll(() => meteredRows('ok')).toBe(okBefore + 1);
  });

  it('stops the upstream when the reader cancels, and meters the stream as aborted', async () => {
    const simBefore = h.sim.records().length;
    const abortedBefore = await meteredRows('aborted');
    const res = await request(200);
    const reader = res.body!.getReader();
    await reader.read();
    await reader.cancel();
    await expect.poll(() => h.sim.records().length, { timeout: 5000 }).toBe(simBefore + 1);
    const rec = h.sim.records().at(-1)!;
    expect(rec.aborted).toBe(true);
    expect(rec.completionTokens).toBeLessThan(200);
    await expect.poll(() => meteredRows('aborted')).toBe(abortedBefore + 1);
  });
});
