// Fuzzing below the JSON layer through the real HTTP stack: deep nesting, invalid UTF-8, odd and huge headers,
// oversized and lying bodies, many messages, wrong content types. Raw sockets where fetch would tidy the request.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Harness } from '../support/harness.js';
import { BODY_LIMIT, MAX_MESSAGES, expectAlive, expectClean, expectEveryRequestAccounted, meteredRequests, rawRequest, send, startFuzzHarness, type Answer } from './support.js';

/** Generous: the suite shares a 2-core machine with other integration suites; nothing here asserts durations. */
const SLOW = { timeout: 180_000 };

let h: Harness;
let key: string;
let tenantId: string;
let cases = 0;
/** Cases sent to the client API (the rest go to /healthz). */
let v1Cases = 0;
let successes = 0;

beforeAll(async () => {
  h = await startFuzzHarness();
  const t = await h.createTenant('fuzz-transport');
  key = t.key;
  tenantId = t.tenant.id;
}, 180_000);
afterAll(async () => {
  // eslint-disable-next-line no-console
  console.log(`fuzz transport: ${cases} HTTP cases tried`);
  await h?.close();
}, 60_000);

async function chat(body: string | Uint8Array<ArrayBuffer>, headers: Record<string, string> = {}): Promise<Answer> {
  cases += 1;
  v1Cases += 1;
  const a = await send(`${h.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body,
  });
  if (a.status < 300) successes += 1;
  return a;
}

function raw(lines: string[], body: Buffer | string = '', options: { reachesApp?: boolean } = {}): Promise<Answer> {
  cases += 1;
  if (lines[0].includes(' /v1/')) v1Cases += 1;
  const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return rawRequest(h.url, Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), b]), options);
}

const nest = (depth: number, open: string, close: string, leaf: string) => `${open.repeat(depth)}${leaf}${close.repeat(depth)}`;

describe('deep nesting does not blow the stack', SLOW, () => {
  it.each([
    ['content', (d: number) => `{"model":"gpt-4o-mini","messages":[{"role":"user","content":${nest(d, '[', ']', '1')}}]}`],
    ['unknown top-level field', (d: number) => `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"x":${nest(d, '[', ']', '')}}`],
    ['metadata', (d: number) => `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"metadata":${nest(d, '{"a":', '}', '1')}}`],
    ['tool parameters', (d: number) => `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":${nest(d, '{"a":', '}', '1')}}}],"max_tokens":3}`],
    ['message extra field', (d: number) => `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi","x":${nest(d, '[', ']', '')}}],"max_tokens":3}`],
    ['whole body', (d: number) => nest(d, '[', ']', '')],
  ])('%s nested 10 000 and 100 000 deep', async (_name, make) => {
    for (const depth of [10_000, 100_000]) {
      const body = make(depth);
      if (body.length > BODY_LIMIT) continue;
      expectClean(await chat(body), `${_name} depth ${depth}`, false);
    }
    await expectAlive(h, key);
  });
});

describe('bytes and encodings', SLOW, () => {
  it('random bytes and invalid UTF-8 inside JSON strings: never 5xx', async () => {
    const bad = fc.constantFrom([0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0x00], [0xef, 0xbb, 0xbf]);
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 300 }).map((b) => ({ kind: 'noise', b })), bad.map((b) => ({ kind: 'string', b }))), async ({ kind, b }) => {
        const bytes = kind === 'noise'
          ? Buffer.from(b)
          : Buffer.concat([Buffer.from('{"model":"gpt-4o-mini","max_tokens":3,"messages":[{"role":"user","content":"a'), Buffer.from(b), Buffer.from('b"}]}')]);
        expectClean(await chat(new Uint8Array(bytes)), `${kind} ${Buffer.from(b).toString('hex').slice(0, 60)}`, false);
      }),
      { numRuns: 80 },
    );
    await expectAlive(h, key);
  });

  it('missing, wrong or odd content-type: never 5xx', async () => {
    const types = fc.constantFrom('', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16', 'application/json; charset=latin1', 'application/json, text/plain', 'ä/ö');
    await fc.assert(
      fc.asyncProperty(types, fc.boolean(), async (ct, good) => {
        const body = good ? '{"model":"gpt-4o-mini","max_tokens":3,"messages":[{"role":"user","content":"hi"}]}' : 'a=1&b=2';
        const lines = ['POST /v1/chat/completions HTTP/1.1', 'Host: x', `Authorization: Bearer ${key}`, 'Connection: close', `Content-Length: ${Buffer.byteLength(body)}`];
        if (ct !== '') lines.push(`Content-Type: ${ct}`);
        const a = await raw(lines, body);
        expectClean(a, `content-type ${ct}`, !good);
        if (a.status < 300) successes += 1;
      }),
      { numRuns: 30 },
    );
  });
});

describe('headers', SLOW, () => {
  it('odd authorization headers: 401 OpenAI-shaped, never 5xx', async () => {
    const auth = fc.oneof(
      fc.string({ maxLength: 100 }).map((s) => `Bearer ${s}`),
      fc.string({ unit: 'binary', maxLength: 60 }).map((s) => `Bearer tg_${s}`),
      fc.constantFrom('Bearer', 'Bearer ', 'bearer tg_', 'Basic dXNlcjpwYXNz', `Bearer ${key} extra`, `Bearer ${key.toUpperCase()}`, 'Bearer tg_' + 'a'.repeat(5000), `Bearer\t${key.slice(0, -1)}`),
    );
    await fc.assert(
      fc.asyncProperty(auth, async (value) => {
        // latin1 on the wire: non-ASCII authorization bytes as a real client could send them.
        const v = Buffer.from(value, 'utf8').toString('latin1').replace(/[\r\n\0]/g, '');
        const a = await raw(['POST /v1/chat/completions HTTP/1.1', 'Host: x', `Authorization: ${v}`, 'Connection: close', 'Content-Type: application/json', 'Content-Length: 2'], '{}');
        expectClean(a, `authorization ${JSON.stringify(v).slice(0, 80)}`);
      }),
      { numRuns: 80 },
    );
  });

  it('duplicated headers and non-ASCII header values: never 5xx', async () => {
    const body = '{"model":"gpt-4o-mini","max_tokens":3,"messages":[{"role":"user","content":"hi"}]}';
    const variants: string[][] = [
      [`Authorization: Bearer ${key}`, `Authorization: Bearer ${key}`],
      [`Authorization: Bearer ${key}`, 'Authorization: Bearer tg_other'],
      [`Authorization: Bearer ${key}`, `X-Api-Key: tg_other`],
      [`Authorization: Bearer ${key}`, 'Content-Type: text/plain'],
      [`Authorization: Bearer ${key}`, `X-Tollgate-Cache: ${'\u00ff'.repeat(20)}`],
      [`Authorization: Bearer ${key}`, `X-Whatever: ${Buffer.from('héllo ✓', 'utf8').toString('latin1')}`],
      [`Authorization: Bearer ${key}`, `Content-Length: ${Buffer.byteLength(body)}`],
      [`Authorization: Bearer ${key}`, 'Transfer-Encoding: chunked'],
    ];
    for (const extra of variants) {
      const a = await raw(['POST /v1/chat/completions HTTP/1.1', 'Host: x', 'Connection: close', 'Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`, ...extra], body);
      // Node refuses some of these itself (400 before the app); whatever answers must not be a 5xx.
      expect(a.status, extra.join(' | ')).toBeGreaterThanOrEqual(200);
      expect(a.status, extra.join(' | ')).toBeLessThan(500);
      if (a.status >= 400 && a.text !== '') expectClean(a, extra.join(' | '));
      if (a.status < 300) successes += 1;
    }
    await expectAlive(h, key);
  });

  it('headers over server.max_header_bytes: 431, and the server keeps serving', async () => {
    const a = await raw(['GET /healthz HTTP/1.1', 'Host: x', 'Connection: close', `X-Big: ${'a'.repeat(20 * 1024)}`]);
    expect(a.status).toBe(431);
    const many = await raw(['GET /healthz HTTP/1.1', 'Host: x', 'Connection: close', ...Array.from({ length: 2000 }, (_, i) => `X-H${i}: ${'v'.repeat(10)}`)]);
    expect(many.status).toBe(431);
    await expectAlive(h, key);
  });
});

describe('sizes', SLOW, () => {
  it('bodies over server.body_limit_bytes: 413 whether declared, chunked or lying', async () => {
    const big = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"${'x'.repeat(BODY_LIMIT)}"}]}`;
    expectClean(await chat(big), 'declared length');
    expect((await chat(big)).status).toBe(413);
    const stream = new ReadableStream<Uint8Array>({
      start(ctrl) {
        for (let i = 0; i < 8; i++) ctrl.enqueue(new TextEncoder().encode('x'.repeat(BODY_LIMIT / 4)));
        ctrl.close();
      },
    });
    cases += 1;
    v1Cases += 1;
    const chunked = await send(`${h.baseURL}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit);
    expect(chunked.status).toBe(413);
    expectClean(chunked, 'chunked');
    // Multi-byte characters: the limit is in bytes, not UTF-16 units.
    const wide = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"${'€'.repeat(Math.ceil(BODY_LIMIT / 3) + 10)}"}]}`;
    expect(wide.length).toBeLessThan(BODY_LIMIT);
    expect((await chat(wide)).status).toBe(413);
    // Content-Length says small, body is larger: Node's parser reads only what was declared; the rest is garbage.
    // The declared request reaches the gateway (a 400), and the answer read back may be Node's 400 for the garbage.
    const lying = await raw(['POST /v1/chat/completions HTTP/1.1', 'Host: x', `Authorization: Bearer ${key}`, 'Connection: close', 'Content-Type: application/json', 'Content-Length: 10'], big, { reachesApp: true });
    expect(lying.status).toBeLessThan(500);
    await expectAlive(h, key);
  });

  it('huge strings and arrays within the body limit: never 5xx', async () => {
    const shapes = fc.constantFrom(
      () => `{"model":"gpt-4o-mini","max_tokens":3,"messages":[{"role":"user","content":"${'word '.repeat(40_000)}"}]}`,
      () => `{"model":"gpt-4o-mini","max_tokens":3,"messages":[{"role":"user","content":[${Array(20_000).fill('{"type":"text","text":"a"}').join(',')}]}]}`,
      () => `{"model":"gpt-4o-mini","max_tokens":3,"messages":[{"role":"user","content":"hi"}],"stop":[${Array(10_000).fill('"s"').join(',')}]}`,
      () => `{"model":"gpt-4o-mini","max_tokens":3,"messages":[{"role":"user","content":"hi"}],"metadata":{${Array.from({ length: 5000 }, (_, i) => `"k${i}":"v"`).join(',')}}}`,
      () => `{"model":"${'m'.repeat(100_000)}","messages":[{"role":"user","content":"hi"}]}`,
      () => `{"model":"text-embedding-3-small","input":[${Array(60_000).fill('1').join(',')}]}`,
    );
    await fc.assert(
      fc.asyncProperty(shapes, async (make) => {
        expectClean(await chat(make()), make.toString().slice(6, 90), false);
      }),
      { numRuns: 12 },
    );
    await expectAlive(h, key);
  });

  it('more messages than server.max_messages: 400 on messages', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: MAX_MESSAGES + 1, max: MAX_MESSAGES * 20 }), async (n) => {
        const messages = Array.from({ length: n }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: 'x' }));
        const a = await chat(JSON.stringify({ model: 'gpt-4o-mini', messages }));
        expectClean(a, `${n} messages`);
        expect(JSON.parse(a.text).error.param).toBe('messages');
      }),
      { numRuns: 10 },
    );
  });
});

describe('after all that', SLOW, () => {
  it('the gateway serves, and what it metered equals the ledger', async () => {
    await expectAlive(h, key);
    successes += 1;
    await h.flushLedger();
    const rows = await h.built.deps.store.ledgerCount({ tenantId });
    expect(rows).toBe(await meteredRequests(h, 'fuzz-transport'));
    expect(rows).toBeGreaterThanOrEqual(successes);
    // And every client API request it answered is either metered (a ledger row) or counted as refused, never both.
    const { sent, metered, refusedByNode } = await expectEveryRequestAccounted(h);
    expect(metered).toBe(rows);
    // Node refuses some raw requests itself (bad bytes in a header): those never reached the gateway.
    expect(sent + refusedByNode).toBeGreaterThanOrEqual(v1Cases); // expectAlive() sends a few more
  });
});
