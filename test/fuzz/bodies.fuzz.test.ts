// Fuzzing request bodies through the real HTTP stack: malformed JSON, wrong types for every field, bogus models,
// absurd numbers and prototype-pollution keys on chat, embeddings, route/explain, responses and admin bodies.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { chatRequestSchema, embeddingRequestSchema } from '../../src/api/openai.js';
import type { Harness } from '../support/harness.js';
import { expectAlive, expectClean, expectEveryRequestAccounted, meteredRequests, send, startFuzzHarness, type Answer } from './support.js';

/** Generous: the suite shares a 2-core machine with other integration suites; nothing here asserts durations. */
const SLOW = { timeout: 180_000 };

let h: Harness;
let key: string;
let tenantId: string;
let cases = 0;
/** Cases sent to the client API (the rest go to /admin). */
let v1Cases = 0;
let successes = 0;

beforeAll(async () => {
  h = await startFuzzHarness();
  const t = await h.createTenant('fuzz-bodies');
  key = t.key;
  tenantId = t.tenant.id;
}, 180_000);
afterAll(async () => {
  // eslint-disable-next-line no-console
  console.log(`fuzz bodies: ${cases} HTTP cases tried`);
  await h?.close();
}, 60_000);

async function post(path: string, body: string, auth: 'key' | 'admin' = 'key', method = 'POST'): Promise<Answer> {
  cases += 1;
  if (path.startsWith('/v1/')) v1Cases += 1;
  const token = auth === 'key' ? key : h.adminToken;
  const a = await send(`${h.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
  if (a.status < 300 && (path === '/v1/chat/completions' || path === '/v1/embeddings')) successes += 1;
  return a;
}

const clientPaths = ['/v1/chat/completions', '/v1/embeddings', '/v1/route/explain', '/v1/responses'];
const hi = [{ role: 'user', content: 'hi' }];

/** Anything a client might send: noise, JSON of any shape, JSON text cut short. */
const anyBody = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.json({ maxDepth: 4 }),
  fc.json({ maxDepth: 4 }).chain((j) => fc.nat({ max: Math.max(0, j.length - 1) }).map((n) => j.slice(0, n))),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify({ model: 'gpt-4o-mini', messages: v })),
);

/** Values of every JSON type and a few absurd ones, including numbers JSON.parse turns into Infinity. */
const oddValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
  fc.constantFrom('1e309', '-1e309', '-1', '0', '1.5', '9007199254740993', '"NaN"', '"Infinity"', 'null', 'true', '""', '[]', '{}', '"x"', '{"__proto__":{"polluted":1}}'),
  fc.string({ maxLength: 5000 }).map((s) => JSON.stringify(s)),
);

function withField(base: Record<string, unknown>, field: string, rawValue: string): string {
  const json = JSON.stringify({ ...base, [field]: '__FIELD__' });
  return json.replace('"__FIELD__"', () => rawValue);
}

describe('fuzzed bodies (through HTTP)', SLOW, () => {
  it('any body on any client endpoint: never 5xx, errors OpenAI-shaped', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...clientPaths), anyBody, async (path, body) => {
        expectClean(await post(path, body), `${path} ${body.slice(0, 80)}`, false);
      }),
      { numRuns: 100 },
    );
    await expectAlive(h, key);
  });

  it('any body on admin endpoints: never 5xx, errors OpenAI-shaped', async () => {
    const created = await h.admin('/tenants', { method: 'POST', body: JSON.stringify({ name: 'fuzz-admin-target' }) });
    const { id } = (await created.json()) as { id: string };
    const targets: Array<[string, string]> = [
      ['/admin/tenants', 'POST'],
      [`/admin/tenants/${id}`, 'PATCH'],
      [`/admin/tenants/${id}/policy`, 'PUT'],
      [`/admin/tenants/${id}/keys`, 'POST'],
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...targets), anyBody, async ([path, method], body) => {
        expectClean(await post(path, body, 'admin', method), `${method} ${path} ${body.slice(0, 80)}`, false);
      }),
      { numRuns: 80 },
    );
  });

  it('a wrongly typed value in any chat field: 400 naming that field', async () => {
    const fields = Object.keys(chatRequestSchema.shape) as Array<keyof typeof chatRequestSchema.shape>;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...fields), oddValue, async (field, raw) => {
        const body = withField({ model: 'gpt-4o-mini', messages: hi, max_tokens: 5 }, field, raw);
        // The field's own schema is the oracle of validity; the property is what the HTTP layer makes of it.
        const valid = chatRequestSchema.shape[field].safeParse(JSON.parse(raw)).success;
        const a = await post('/v1/chat/completions', body);
        expectClean(a, `${field}=${raw.slice(0, 80)}`, !valid);
        if (!valid && a.status === 400) expect(String(JSON.parse(a.text).error.param ?? ''), `${field}=${raw.slice(0, 80)}`).toMatch(new RegExp(`^${field}`));
      }),
      { numRuns: 150 },
    );
  });

  it('a wrongly typed value in any embeddings field: 4xx', async () => {
    const fields = Object.keys(embeddingRequestSchema.shape) as Array<keyof typeof embeddingRequestSchema.shape>;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...fields), oddValue, async (field, raw) => {
        const valid = embeddingRequestSchema.shape[field].safeParse(JSON.parse(raw)).success;
        const a = await post('/v1/embeddings', withField({ model: 'text-embedding-3-small', input: 'hi' }, field, raw));
        expectClean(a, `${field}=${raw.slice(0, 80)}`, !valid);
      }),
      { numRuns: 100 },
    );
  });

  it('bogus model and route names: 4xx (404 model_not_found or 400)', async () => {
    const catalog = h.config.catalog;
    const bogus = fc.oneof(
      fc.string({ minLength: 1, maxLength: 300 }),
      fc.constantFrom('auto/../../admin', 'openai/../../etc/passwd', 'gpt-4o-mini?x=1', 'http://169.254.169.254/', 'gemini/gemini-2.5-flash:streamGenerateContent', '%2e%2e', '\u0000', 'constructor', '__proto__', 'toString'),
    ).filter((m) => catalog.resolve(m) === undefined && m.trim() !== 'auto');
    await fc.assert(
      fc.asyncProperty(bogus, fc.constantFrom('/v1/chat/completions', '/v1/route/explain', '/v1/embeddings'), async (model, path) => {
        const body = JSON.stringify(path === '/v1/embeddings' ? { model, input: 'x' } : { model, messages: hi });
        expectClean(await post(path, body), `${path} model=${JSON.stringify(model).slice(0, 80)}`);
      }),
      { numRuns: 120 },
    );
  });

  it('negative, zero, huge and non-finite max_tokens: 400 on max_tokens', async () => {
    const raws = fc.oneof(fc.integer({ max: 0 }).map(String), fc.constantFrom('1e309', '-1e309', '1e20', '2147483648', '0.5', '"10"', '-0'));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('max_tokens', 'max_completion_tokens'), raws, async (field, raw) => {
        const a = await post('/v1/chat/completions', withField({ model: 'gpt-4o-mini', messages: hi }, field, raw));
        expectClean(a, `${field}=${raw}`);
        expect(JSON.parse(a.text).error.param).toBe(field);
      }),
      { numRuns: 60 },
    );
  });

  it('prototype-pollution keys are inert: no 5xx, no polluted prototype, the gateway still serves', async () => {
    const evil = fc.constantFrom('__proto__', 'constructor', 'prototype');
    const payload = fc.constantFrom('{"polluted":"yes"}', '{"prototype":{"polluted":"yes"}}', '"x"', '1', 'null');
    await fc.assert(
      fc.asyncProperty(evil, payload, fc.constantFrom('top', 'message', 'metadata', 'tool'), async (k, v, where) => {
        const inner = `{${JSON.stringify(k)}:${v}}`;
        let body: string;
        if (where === 'top') body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],${JSON.stringify(k)}:${v},"max_tokens":3}`;
        else if (where === 'message') body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi",${JSON.stringify(k)}:${v}}],"max_tokens":3}`;
        else if (where === 'metadata') body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"metadata":${inner},"max_tokens":3}`;
        else body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":${inner}}}],"max_tokens":3}`;
        expectClean(await post('/v1/chat/completions', body), `${where} ${k}=${v}`, false);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect((Object.prototype as unknown as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: 60 },
    );
    await expectAlive(h, key);
    // Admin bodies and tenant policies too: a policy key must not reach Object.prototype.
    const a = await post('/admin/tenants', '{"name":"pp","policy":{"__proto__":{"polluted":"yes"},"routes":{"__proto__":{"strategy":"cheapest"}}}}', 'admin');
    expectClean(a, 'admin policy __proto__', false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('what the gateway metered equals the ledger and covers every success', async () => {
    await expectAlive(h, key);
    successes += 1;
    await h.flushLedger();
    const rows = await h.built.deps.store.ledgerCount({ tenantId });
    expect(rows).toBe(await meteredRequests(h, 'fuzz-bodies'));
    expect(rows).toBeGreaterThanOrEqual(successes);
    // And every client API request it answered is either metered (a ledger row) or counted as refused, never both.
    const { sent, metered, refusedByNode } = await expectEveryRequestAccounted(h);
    expect(metered).toBe(rows);
    expect(refusedByNode).toBe(0);
    expect(sent).toBeGreaterThanOrEqual(v1Cases); // expectAlive() sends a few more
  });
});
