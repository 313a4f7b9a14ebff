// Shared checks of the fuzz suites: the exact OpenAI error shape, a raw-socket HTTP client, liveness and metering counts
// (every /v1 request the gateway answered is either metered or counted as refused).
import { connect } from 'node:net';
import { expect } from 'vitest';
import type { FileConfig } from '../../src/config/schema.js';
import { startHarness, type Harness } from '../support/harness.js';

export const clock = () => new Date('2026-11-25T12:00:00Z');
export const BODY_LIMIT = 256 * 1024;
export const MAX_MESSAGES = 64;

/** Small limits so oversized cases stay cheap; a high auth-failure limit so that fuzzing keys does not lock us out. */
export const fuzzServer: FileConfig['server'] = {
  body_limit_bytes: BODY_LIMIT,
  max_messages: MAX_MESSAGES,
  max_header_bytes: 16 * 1024,
  request_timeout_ms: 30_000,
  shutdown_grace_ms: 1000,
  log_prompts: false,
  auth_failures_per_minute: 1_000_000,
};

export function startFuzzHarness(): Promise<Harness> {
  return startHarness({ clock, sim: { latencyMs: 0, ttftMs: 0, chunkDelayMs: 0, defaultOutputTokens: 5 }, overrides: { server: fuzzServer } });
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

/** Exactly `{error:{message,type,param,code}}` with string message/type and string-or-null param/code. */
export function expectErrorShape(a: Answer, context: string): void {
  let json: unknown;
  try {
    json = JSON.parse(a.text);
  } catch {
    throw new Error(`${context}: status ${a.status} with a non-JSON body: ${a.text.slice(0, 200)}`);
  }
  expect(Object.keys(json as object), context).toEqual(['error']);
  const e = (json as { error: Record<string, unknown> }).error;
  expect(Object.keys(e).sort(), context).toEqual(['code', 'message', 'param', 'type']);
  expect(typeof e.message, context).toBe('string');
  expect(typeof e.type, context).toBe('string');
  expect(e.param === null || typeof e.param === 'string', context).toBe(true);
  expect(e.code === null || typeof e.code === 'string', context).toBe(true);
}

/** The fuzz property: never 5xx; any 4xx is OpenAI-shaped; `mustFail` demands a 4xx. */
export function expectClean(a: Answer, context: string, mustFail = true): void {
  expect(a.status, `${context}: ${a.text.slice(0, 300)}`).toBeLessThan(500);
  if (mustFail) expect(a.status, `${context}: ${a.text.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
  if (a.status >= 400) expectErrorShape(a, context);
}

/** Client API requests sent to one gateway (by origin), counted by the client as they are answered. */
interface Tally {
  /** Answered by the app (the answer carries x-request-id): each must be in the ledger or in the refused counter. */
  reached: number;
  /** Refused by Node's HTTP parser before the app (bad header bytes, header overflow): the app never saw them. */
  refusedByNode: number;
}
const tallies = new Map<string, Tally>();

function tallyOf(origin: string): Tally {
  let t = tallies.get(origin);
  if (!t) tallies.set(origin, (t = { reached: 0, refusedByNode: 0 }));
  return t;
}

function count(url: URL, path: string, a: Answer, reachesApp = false): void {
  if (!path.startsWith('/v1/')) return;
  const t = tallyOf(url.origin);
  if (a.headers['x-request-id'] || reachesApp) t.reached += 1;
  if (a.headers['x-request-id']) return;
  // Only Node's own refusals (server-options.ts) may answer without a request id.
  expect([400, 408, 431], `${path} answered ${a.status} without x-request-id: ${a.text.slice(0, 200)}`).toContain(a.status);
  t.refusedByNode += 1;
}

export async function send(url: string, init: RequestInit): Promise<Answer> {
  const res = await fetch(url, init);
  const text = await res.text();
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => (headers[k] = v));
  const a = { status: res.status, headers, text };
  const u = new URL(url);
  count(u, u.pathname, a);
  return a;
}

/**
 * Writes raw bytes to the server and reads the answer (Connection: close expected). fetch cannot send invalid
 * header bytes, duplicate headers as given or a body that lies about its length; a socket can. `reachesApp`: the
 * request as declared reaches the gateway even when the answer read back is Node's refusal of bytes sent after it.
 */
export async function rawRequest(baseUrl: string, bytes: Buffer | string, options: { reachesApp?: boolean } = {}): Promise<Answer> {
  const a = await rawExchange(baseUrl, bytes);
  const head = (typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes).subarray(0, 2048).toString('latin1');
  count(new URL(baseUrl), /^[A-Z]+ (\S+) HTTP/.exec(head)?.[1] ?? '', a, options.reachesApp);
  return a;
}

function rawExchange(baseUrl: string, bytes: Buffer | string): Promise<Answer> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', (e) => {
      // A server that answered then reset the socket while we were still writing: keep what it said.
      if (chunks.length > 0) finish();
      else reject(e);
    });
    socket.on('end', () => finish());
    socket.setTimeout(10_000, () => socket.destroy(new Error('raw request timed out')));
    let done = false;
    function finish(): void {
      if (done) return;
      done = true;
      socket.destroy();
      resolve(parseRaw(Buffer.concat(chunks)));
    }
    // No half-close: Node's server drops a half-closed connection whose answer is still being computed.
    socket.write(bytes);
  });
}

function parseRaw(buf: Buffer): Answer {
  const text = buf.toString('latin1');
  const split = text.indexOf('\r\n\r\n');
  const head = split < 0 ? text : text.slice(0, split);
  const [statusLine, ...lines] = head.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  let body = split < 0 ? Buffer.alloc(0) : buf.subarray(Buffer.byteLength(text.slice(0, split + 4), 'latin1'));
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
  return { status, headers, text: body.toString('utf8') };
}

function dechunk(buf: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  while (at < buf.length) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(buf.subarray(at, eol).toString('latin1'), 16);
    if (!size) break;
    out.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/** The gateway still answers /healthz and a valid chat request after whatever came before. */
export async function expectAlive(h: Harness, key: string): Promise<void> {
  expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
  const a = await send(`${h.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'still there?' }] }),
  });
  expect(a.status, a.text).toBe(200);
}

/** Sum of tollgate_requests_total over the series of one tenant label. */
export async function meteredRequests(h: Harness, tenantName: string): Promise<number> {
  const text = await (await fetch(`${h.url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('tollgate_requests_total{') && line.includes(`tenant="${tenantName}"`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

function sumSeries(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

/**
 * Every /v1 request this gateway answered is accounted for once: the client's count equals tollgate_requests_total
 * (metered: a ledger row) plus tollgate_refused_requests_total (refused before admission), over all tenants.
 */
export async function expectEveryRequestAccounted(h: Harness): Promise<{ sent: number; metered: number; refused: number; refusedByNode: number }> {
  const t = tallyOf(new URL(h.url).origin);
  let metered = 0;
  let refused = 0;
  // A stream is metered as it ends, a moment after the client read its last byte.
  await expect
    .poll(async () => {
      const text = await (await fetch(`${h.url}/metrics`)).text();
      metered = sumSeries(text, 'tollgate_requests_total');
      refused = sumSeries(text, 'tollgate_refused_requests_total');
      return metered + refused;
    }, { timeout: 5_000 })
    .toBe(t.reached);
  expect(refused).toBeGreaterThan(0);
  expect(metered).toBeGreaterThan(0);
  return { sent: t.reached, metered, refused, refusedByNode: t.refusedByNode };
}
