// Request bodies read on the real Node server (@hono/node-server), as the gateway's routes read them (readJson): a
// body that came with its headers is taken from Node's buffer at once, one still arriving the usual way. Either way the
// JSON is whole, the request ends (Node and node-server treat it as consumed), and the connection serves the next one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { z } from 'zod';
import { readJson } from '../../src/http/body.js';
import { GatewayError } from '../../src/errors.js';

const schema = z.object({ text: z.string() });
const LIMIT = 64 * 1024;

/**
 * What the route saw of each request: its text, how the body was read, and whether Node's request had ended once the
 * answer was written. `via`: after readJson the route asks c.req.text() again; Hono keeps the text of a body that
 * c.req.text() read (`reader`), while one taken from Node's buffer leaves node-server refusing a second read (`buffer`).
 */
const seen: Array<{ text: string; via: 'buffer' | 'reader'; ended: () => boolean }> = [];
let server: ServerType;
let port: number;

beforeAll(async () => {
  const app = new Hono();
  app.post('/echo', async (c) => {
    const incoming = (c.env as { incoming: IncomingMessage }).incoming;
    const body = await readJson(c, schema, LIMIT);
    const via = await c.req.text().then(
      () => 'reader' as const,
      () => 'buffer' as const,
    );
    seen.push({ text: body.text, via, ended: () => incoming.readableEnded });
    return c.json({ length: body.text.length, text: body.text });
  });
  app.onError((e, c) => c.json({ error: e instanceof GatewayError ? e.code : String(e) }, e instanceof GatewayError ? (e.status as 400) : 500));
  await new Promise<void>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve());
  });
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Runs `fn` over one keep-alive socket, closed afterwards. */
async function withClient(fn: (c: ReturnType<typeof client>) => Promise<void>): Promise<void> {
  const c = client();
  try {
    await fn(c);
  } finally {
    c.close();
  }
}

/** One keep-alive socket; `send` writes parts with pauses between them and resolves with each whole answer. */
function client() {
  const socket: Socket = connect(port, '127.0.0.1');
  let buf = Buffer.alloc(0);
  let waiting: ((a: { status: number; body: string }) => void) | null = null;
  const pump = () => {
    const head = buf.indexOf('\r\n\r\n');
    if (head < 0 || !waiting) return;
    const headers = buf.subarray(0, head).toString('latin1');
    const length = Number(/content-length: (\d+)/i.exec(headers)?.[1] ?? 0);
    if (buf.length < head + 4 + length) return;
    const body = buf.subarray(head + 4, head + 4 + length).toString('utf8');
    buf = buf.subarray(head + 4 + length);
    const w = waiting;
    waiting = null;
    w({ status: Number(headers.slice(9, 12)), body });
  };
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    pump();
  });
  return {
    async send(parts: Array<string | Buffer>, pauseMs = 30): Promise<{ status: number; body: string }> {
      const answer = new Promise<{ status: number; body: string }>((resolve) => (waiting = resolve));
      pump(); // an answer that came with the one before
      for (let i = 0; i < parts.length; i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, pauseMs));
        socket.write(parts[i]);
      }
      return answer;
    },
    close: () => socket.destroy(),
  };
}

const head = (length: number) => `POST /echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n\r\n`;
/** A request with its body, or with the first `upTo` bytes of it, in one packet. */
const withHead = (body: Buffer, upTo = body.length) => Buffer.concat([Buffer.from(head(body.length), 'latin1'), body.subarray(0, upTo)]);
const json = (text: string) => Buffer.from(JSON.stringify({ text }), 'utf8');

/** After the answer, the request has ended: no drain left for node-server, nothing pending on the connection. */
async function expectEnded(n: number): Promise<void> {
  await new Promise((r) => setImmediate(r));
  expect(seen.slice(-n).every((s) => s.ended())).toBe(true);
}

describe('request bodies on the Node server', () => {
  it('takes a body that came with its headers, and the connection serves the next request', () =>
    withClient(async (c) => {
      for (const text of ['first', 'second, on the same connection', 'ünïcödé ✓ and "quotes"']) {
        const body = json(text);
        const a = await c.send([withHead(body)]);
        expect(a.status).toBe(200);
        expect(JSON.parse(a.body)).toEqual({ length: text.length, text });
      }
      expect(seen.slice(-3).map((s) => s.via)).toEqual(['buffer', 'buffer', 'buffer']);
      await expectEnded(3);
    }));

  it('reads a body that arrives after its headers, or in pieces, to the end', () =>
    withClient(async (c) => {
      const body = json('x'.repeat(5000));
      let a = await c.send([head(body.length), body]);
      expect(a.status).toBe(200);
      expect(JSON.parse(a.body).length).toBe(5000);
      // Half of the body with the headers, the rest later: what is buffered is not the whole body.
      a = await c.send([withHead(body, 2500), body.subarray(2500)]);
      expect(a.status).toBe(200);
      expect(JSON.parse(a.body).length).toBe(5000);
      // A multi-byte character split between two packets.
      const u = json('é'.repeat(300));
      const cut = u.indexOf(0xc3) + 1;
      a = await c.send([withHead(u, cut), u.subarray(cut)]);
      expect(a.status).toBe(200);
      expect(JSON.parse(a.body).text).toBe('é'.repeat(300));
      expect(seen.slice(-3).map((s) => s.via)).toEqual(['reader', 'reader', 'reader']);
      await expectEnded(3);
    }));

  it('drops a leading byte-order mark either way, as TextDecoder does', () =>
    withClient(async (c) => {
      const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), json('bom')]);
      let a = await c.send([withHead(body)]);
      expect(a.status).toBe(200);
      expect(JSON.parse(a.body).text).toBe('bom');
      a = await c.send([head(body.length), body]);
      expect(a.status).toBe(200);
      expect(JSON.parse(a.body).text).toBe('bom');
      expect(seen.slice(-2).map((s) => s.via)).toEqual(['buffer', 'reader']);
      // A chunked upload (no content-length): read as it arrives, the same text.
      const chunked = `POST /echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`;
      const piece = (b: Buffer) => Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`, 'latin1'), b, Buffer.from('\r\n', 'latin1')]);
      a = await c.send([Buffer.concat([Buffer.from(chunked, 'latin1'), piece(body.subarray(0, 5))]), Buffer.concat([piece(body.subarray(5)), Buffer.from('0\r\n\r\n', 'latin1')])]);
      expect(a.status).toBe(200);
      expect(JSON.parse(a.body).text).toBe('bom');
    }));

  it('takes two pipelined requests in one packet, each with its own body', () =>
    withClient(async (c) => {
      const [b1, b2] = [json('one'), json('two')];
      const first = c.send([Buffer.concat([withHead(b1), withHead(b2)])]);
      expect(JSON.parse((await first).body).text).toBe('one');
      const second = await c.send([]);
      expect(JSON.parse(second.body).text).toBe('two');
    }));

  it('answers a body that is not JSON, or over the limit, with the usual errors', () =>
    withClient(async (c) => {
      const bad = Buffer.from('{"text": ', 'utf8');
      let a = await c.send([withHead(bad)]);
      expect(a.status).toBe(400);
      expect(JSON.parse(a.body).error).toBe('invalid_json');
      const empty = await c.send([head(0)]);
      expect(empty.status).toBe(400);
      expect(JSON.parse(empty.body).error).toBe('invalid_json');
      a = await c.send([head(LIMIT + 1)]);
      expect(a.status).toBe(413);
    }));
});
