// A tiny local HTTP server for adapter tests: records each request and answers with whatever the test scripts.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import { createUpstreamHttp, type UpstreamHttp, type UpstreamHttpOptions } from '../../src/providers/http.js';

export interface Captured {
  /** Resolves when the client closed the connection (e.g. it aborted). */
  closed: Promise<void>;
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  json: unknown;
}

export type Responder = (req: Captured, res: ServerResponse) => void | Promise<void>;

export interface CaptureServer {
  url: string;
  requests: Captured[];
  /** TCP connections accepted so far (keep-alive reuse shows as fewer connections than requests). */
  connections(): number;
  respond(fn: Responder): void;
  close(): Promise<void>;
}

export async function startCaptureServer(host = '127.0.0.1'): Promise<CaptureServer> {
  const requests: Captured[] = [];
  let responder: Responder = (_req, res) => {
    res.writeHead(500).end();
  };
  const server = createServer((req, res) => {
    const closed = new Promise<void>((resolve) => res.on('close', () => resolve()));
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown = undefined;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      const captured = { closed, method: req.method ?? '', url: req.url ?? '', headers: req.headers, body, json };
      requests.push(captured);
      void responder(captured, res);
    });
  });
  let connections = 0;
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    requests,
    connections: () => connections,
    respond(fn) {
      responder = fn;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(text);
}

/** An SSE answer: each event as written (with its blank line), then `data: [DONE]` unless `done` is false. */
export function sendSse(res: ServerResponse, events: string[], done = true): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const e of events) res.write(e);
  res.end(done ? 'data: [DONE]\n\n' : '');
}

/** A capture server and an upstream HTTP client for a test file: started before its tests, closed after them. */
export function captureUpstream(options: UpstreamHttpOptions): { server: CaptureServer; http: UpstreamHttp } {
  const up = {} as { server: CaptureServer; http: UpstreamHttp };
  beforeAll(async () => {
    up.server = await startCaptureServer();
    up.http = createUpstreamHttp(options);
  });
  afterAll(async () => {
    await up.http?.close();
    await up.server?.close();
  });
  return up;
}
