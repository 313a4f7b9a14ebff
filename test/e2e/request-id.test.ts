// Every answer over real HTTP carries one x-request-id (set on the Node response, not by rebuilding the Response),
// and for a metered request it is the ledger's request id. A served answer writes it among its own headers
// (servedHeaders); any other gets it from the app's first middleware after the route (src/app.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';

let h: Harness;
let key: string;
let tenantId: string;

beforeAll(async () => {
  h = await startHarness();
  const t = await h.createTenant('request-id');
  key = t.key;
  tenantId = t.tenant.id;
});
afterAll(async () => h?.close());

const auth = () => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });
const one = (r: Response) => {
  const v = r.headers.get('x-request-id');
  expect(v).toMatch(/^req_[0-9a-f]{32}$/); // a duplicated header would read "req_…, req_…"
  return v as string;
};

describe('x-request-id', () => {
  it('is on every kind of answer, exactly once', async () => {
    const answers = await Promise.all([
      fetch(`${h.url}/healthz`),
      fetch(`${h.url}/metrics`),
      fetch(`${h.url}/dashboard`),
      fetch(`${h.url}/nowhere`),
      fetch(`${h.baseURL}/models`, { headers: auth() }),
      fetch(`${h.baseURL}/models`),
      h.admin('/tenants'),
      fetch(`${h.baseURL}/chat/completions`, { method: 'POST', headers: auth(), body: '{"model":' }),
    ]);
    const ids = answers.map(one);
    expect(new Set(ids).size).toBe(ids.length);
    await Promise.all(answers.map((r) => r.arrayBuffer()));
  });

  it('of a chat completion, JSON or streamed, is the ledger row of that request', async () => {
    const json = await fetch(`${h.baseURL}/chat/completions`, { method: 'POST', headers: auth(), body: JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }) });
    expect(json.status).toBe(200);
    await json.json();
    const stream = await fetch(`${h.baseURL}/chat/completions`, { method: 'POST', headers: auth(), body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }) });
    expect(stream.status).toBe(200);
    await stream.text();
    const ids = [one(json), one(stream)];
    await h.flushLedger();
    const rows = await h.sql()<Array<{ request_id: string }>>`select request_id from usage_ledger where tenant_id = ${tenantId}`;
    expect(rows.map((r) => r.request_id).sort()).toEqual([...ids].sort());
  });

  it('is on served answers (chat, stream, embeddings) and on refusals before and after auth, exactly once', async () => {
    const chat = (extra: Record<string, unknown> = {}) => JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }], ...extra });
    const answers = await Promise.all([
      fetch(`${h.baseURL}/chat/completions`, { method: 'POST', headers: auth(), body: chat() }),
      fetch(`${h.baseURL}/chat/completions`, { method: 'POST', headers: auth(), body: chat({ stream: true }) }),
      fetch(`${h.baseURL}/embeddings`, { method: 'POST', headers: auth(), body: JSON.stringify({ model: 'text-embedding-3-small', input: 'hi' }) }),
      fetch(`${h.baseURL}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat() }),
      fetch(`${h.baseURL}/chat/completions`, { method: 'POST', headers: auth(), body: chat({ model: 'no-such-model' }) }),
    ]);
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 401, 404]);
    const ids = answers.map(one);
    expect(new Set(ids).size).toBe(ids.length);
    await Promise.all(answers.map((r) => r.arrayBuffer()));
  });
});
