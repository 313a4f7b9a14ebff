// Every answer of the Node server carries one x-request-id, the one its ledger row and access line use: a served
// answer writes it among its own headers (src/gateway/admission.ts servedHeaders), anything else gets it from the
// app's first middleware (src/app.ts) after the route, so that Node's writeHead keeps its fast path.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';

let h: Harness;
let key: string;

beforeAll(async () => {
  h = await startHarness();
  key = (await h.createTenant('request-id')).key;
});
afterAll(async () => {
  await h?.close();
});

/** The raw header lines (names as sent) of one answer, and its status. */
function rawHeaders(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; raw: string[] }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${h.url}${path}`, { method, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, raw: res.rawHeaders }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const ids = (raw: string[]) => raw.flatMap((v, i) => (i % 2 === 1 && raw[i - 1].toLowerCase() === 'x-request-id' ? [v] : []));

describe('x-request-id', () => {
  const auth = () => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });
  const chat = (extra: Record<string, unknown> = {}) => JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }], ...extra });

  it.each([
    ['a served chat answer', 'POST', '/v1/chat/completions', auth, chat(), 200],
    ['a served stream', 'POST', '/v1/chat/completions', auth, chat({ stream: true }), 200],
    ['an embeddings answer', 'POST', '/v1/embeddings', auth, JSON.stringify({ model: 'text-embedding-3-small', input: 'hi' }), 200],
    ['a request the route refuses', 'POST', '/v1/chat/completions', auth, '{"model":', 400],
    ['a request without a key', 'POST', '/v1/chat/completions', () => ({ 'content-type': 'application/json' }), chat(), 401],
    ['a route that does not exist', 'GET', '/v1/nothing-here', auth, undefined, 404],
    ['the model list', 'GET', '/v1/models', auth, undefined, 200],
  ] as const)('%s carries exactly one', async (_what, method, path, headers, body, status) => {
    const res = await rawHeaders(method, path, headers(), body);
    expect(res.status).toBe(status);
    const found = ids(res.raw);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^req_[0-9a-f]{32}$/);
  });

  it("is the id of the request's ledger row", async () => {
    const res = await rawHeaders('POST', '/v1/chat/completions', auth(), chat());
    const [id] = ids(res.raw);
    await h.flushLedger();
    const rows = await h.sql()<{ n: number }[]>`select count(*)::int as n from usage_ledger where request_id = ${id}`;
    expect(rows[0].n).toBe(1);
  });
});
