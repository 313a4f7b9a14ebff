// Responses API failures through the running gateway: mid-stream failure events (native and translated), fallback before
// the first byte, upstream errors in OpenAI's shape; each metered on a `responses` ledger row.
import OpenAI from 'openai';
import type postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';

const clock = () => new Date('2026-11-25T12:00:00Z');

let h: Harness;
let sql: postgres.Sql;
let key: string;
let client: OpenAI;

beforeAll(async () => {
  h = await startHarness({ clock });
  sql = h.sql();
  ({ key } = await h.createTenant('responses-failures'));
  client = new OpenAI({ baseURL: h.baseURL, apiKey: key, maxRetries: 0 });
});
afterEach(() => h.sim.clearFaults());
afterAll(async () => {
  await h?.close();
});

interface Row {
  endpoint: string;
  provider: string | null;
  model: string | null;
  outcome: string;
  error_code: string | null;
  status: number;
  stream: boolean;
  attempts: unknown[];
}

async function ledgerRow(requestId: string | null): Promise<Row> {
  await h.flushLedger();
  const rows = await sql<Row[]>`select endpoint, provider, model, outcome, error_code, status, stream, attempts
    from usage_ledger where request_id = ${requestId ?? ''}`;
  expect(rows).toHaveLength(1);
  return rows[0];
}

interface Event {
  type: string;
  sequence_number: number;
  response?: { id: string; status: string; error: { code: string } | null };
  code?: string;
}

async function streamEvents(body: Record<string, unknown>): Promise<{ events: Event[]; requestId: string | null; status: number }> {
  const res = await fetch(`${h.baseURL}/responses`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true }),
  });
  const text = await res.text();
  const events = text
    .split('\n\n')
    .map((frame) => frame.split('\n').find((l) => l.startsWith('data: ')))
    .filter((l): l is string => l !== undefined)
    .map((l) => JSON.parse(l.slice(6)) as Event);
  return { events, requestId: res.headers.get('x-request-id'), status: res.status };
}

describe.each([
  { model: 'gpt-4o-mini', provider: 'openai', fault: 'error_event:3' },
  { model: 'gpt-4o-mini', provider: 'openai', fault: 'cut:3' },
  { model: 'gemini-2.5-flash', provider: 'gemini', fault: 'error_event:3' },
  { model: 'deepseek-flash', provider: 'deepseek', fault: 'cut:3' },
])('mid-stream failure on $model ($fault)', ({ model, provider, fault }) => {
  it('ends with response.failed then error, sequence numbers increasing; metered as an error', async () => {
    const { events, requestId, status } = await streamEvents({ model, input: `Write a long story about owls. [[sim:fault=${fault}]]` });
    expect(status).toBe(200);
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('response.created');
    expect(types.slice(-2)).toEqual(['response.failed', 'error']);
    expect(types).not.toContain('response.completed');
    for (let i = 1; i < events.length; i++) expect(events[i].sequence_number).toBeGreaterThan(events[i - 1].sequence_number);
    const failed = events.at(-2)?.response;
    expect(failed?.status).toBe('failed');
    expect(failed?.error?.code).toBeTruthy();
    expect(events.at(-1)?.code).toBeTruthy();
    const row = await ledgerRow(requestId);
    expect(row).toMatchObject({ endpoint: 'responses', provider, model, outcome: 'error', stream: true });
    expect(row.error_code).toBeTruthy();
  });

  it('the SDK stream helper throws', async () => {
    const stream = client.responses.stream({ model, input: `More owls. [[sim:fault=${fault}]]` });
    await expect(
      (async () => {
        for await (const _ of stream) void _;
        await stream.finalResponse();
      })(),
    ).rejects.toThrow();
  });
});

describe('before the first byte', () => {
  it('a 503 from the first candidate of a route alias falls back to the next one', async () => {
    const probe = await client.responses.create({ model: 'auto', input: 'Which model answers?' }).withResponse();
    const firstProvider = probe.response.headers.get('x-tollgate-provider') as 'openai' | 'deepseek' | 'gemini';
    const firstModel = probe.response.headers.get('x-tollgate-model');
    h.sim.setFaults([{ provider: firstProvider, fault: { type: 'status', status: 503 }, times: 1 }]);

    const { data: r, response } = await client.responses.create({ model: 'auto', input: 'Which model answers?' }).withResponse();
    expect(r.status).toBe('completed');
    expect(response.headers.get('x-tollgate-model')).not.toBe(firstModel);
    expect(response.headers.get('x-tollgate-route')).toContain('fallbacks=1');
    const row = await ledgerRow(response.headers.get('x-request-id'));
    expect(row).toMatchObject({ endpoint: 'responses', outcome: 'ok', model: response.headers.get('x-tollgate-model') });
    expect(row.attempts).toHaveLength(2);
  });

  it('a pinned model with a non-retryable upstream 400 gives the OpenAI error shape, metered', async () => {
    h.sim.setFaults([{ provider: 'openai', fault: { type: 'status', status: 400 }, times: 1 }]);
    const res = await fetch(`${h.baseURL}/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', input: 'hello' }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: Record<string, unknown> };
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    const row = await ledgerRow(res.headers.get('x-request-id'));
    expect(row).toMatchObject({ endpoint: 'responses', provider: 'openai', outcome: 'error', status: 400 });
  });

  it('DeepSeek with a json_schema format is refused with a 400 naming the parameter, before any upstream call', async () => {
    const before = h.sim.records().filter((r) => r.provider === 'deepseek').length;
    const err = await client.responses
      .create({ model: 'deepseek-flash', input: 'A city', text: { format: { type: 'json_schema', name: 'c', schema: { type: 'object', properties: {} } } } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    // Named as the client sent it (text.format), not as the translated chat request has it (response_format).
    expect(err).toMatchObject({ param: 'text.format', code: 'unsupported_capability' });
    expect(String((err as Error).message)).toContain('text.format');
    expect(h.sim.records().filter((r) => r.provider === 'deepseek').length).toBe(before);
  });
});

describe.each([
  { model: 'gpt-4o-mini', provider: 'openai' },
  { model: 'gemini-2.5-flash', provider: 'gemini' },
])('client leaves mid-stream on $model', ({ model, provider }) => {
  it('the upstream is cancelled and the request is metered as aborted', async () => {
    h.sim.configure({ chunkDelayMs: 40 });
    const abortedBefore = h.sim.records().filter((r) => r.provider === provider && r.aborted).length;
    try {
      const ac = new AbortController();
      const res = await fetch(`${h.baseURL}/responses`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, input: 'A very long story about herons, please.', max_output_tokens: 400, stream: true }),
        signal: ac.signal,
      });
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let seen = '';
      while (!seen.includes('response.output_text.delta')) {
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended before any text');
        seen += new TextDecoder().decode(value);
      }
      ac.abort();
      await reader.cancel().catch(() => {});
      await expect.poll(() => h.sim.records().filter((r) => r.provider === provider && r.aborted).length, { timeout: 10_000 }).toBe(abortedBefore + 1);
      const row = await ledgerRow(res.headers.get('x-request-id'));
      expect(row).toMatchObject({ endpoint: 'responses', provider, model, outcome: 'aborted', stream: true });
    } finally {
      h.sim.configure({ chunkDelayMs: 0 });
    }
  });
});

describe('limits', () => {
  it('the tenant rate limit applies to the Responses API: 429 with OpenAI headers, nothing sent upstream', async () => {
    const { key: limited } = await h.createTenant('responses-rpm', { rate_limits: { tenant: { rpm: 1 } } });
    const c = new OpenAI({ baseURL: h.baseURL, apiKey: limited, maxRetries: 0 });
    await c.responses.create({ model: 'gemini-2.5-flash', input: 'one' });
    const upstream = h.sim.records().length;
    const err = await c.responses.create({ model: 'gemini-2.5-flash', input: 'two' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).headers?.get('x-ratelimit-limit-requests')).toBe('1');
    expect(h.sim.records().length).toBe(upstream);
  });
});

describe('native event reader', () => {
  it('an upstream body that ends cleanly without a terminal event still ends in response.failed and error', async () => {
    const { nativeEvents } = await import('../../src/gateway/responses-events.js');
    const { parseResponsesRequest } = await import('../../src/responses/index.js');
    const req = parseResponsesRequest({ model: 'gpt-4o-mini', input: 'x', previous_response_id: 'resp_prev' });
    const created = { type: 'response.created', sequence_number: 0, response: { id: 'resp_up', object: 'response', status: 'in_progress', store: false, output: [] } };
    const body = new Response(`event: response.created\ndata: ${JSON.stringify(created)}\n\n`).body;
    if (!body) throw new Error('no body');
    const events = [];
    for await (const e of nativeEvents(body, { id: 'resp_local', createdAt: 0, req, model: 'gpt-4o-mini' })) events.push(e);
    expect(events.map((e) => e.type)).toEqual(['response.created', 'response.failed', 'error']);
    expect(events.map((e) => e.sequence_number)).toEqual([0, 1, 2]);
    // The echo is the client's, not what the gateway sent upstream (store:false, no previous_response_id).
    expect(events[0]).toMatchObject({ response: { store: true, previous_response_id: 'resp_prev' } });
    expect(events[1]).toMatchObject({ response: { id: 'resp_up', status: 'failed' } });
  });
});
