// Upstream faults through the gateway process: what the client sees for each, and the ledger row each one leaves.
// DeepSeek's base URL points at a closed port (connection refused); the other faults come from the simulator.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import type { GatewayProcess } from '../support/process.js';
import { freePort } from '../support/process.js';
import { ask, chat, createTenant, ledgerRows, startStack, until, type Answer, type LedgerRow, type Stack, type TenantKey } from './support.js';

let stack: Stack;
let gw: GatewayProcess;
let tenant: TenantKey;
let sent = 0;

const policy = {
  baseline_model: 'gpt-4o-mini',
  routes: {
    // Models of two providers with no catalog shutdown before 2027 (flash-lite has none), so the real clock is safe.
    fb: { strategy: 'cheapest', models: ['gpt-4o-mini', 'gemini-2.5-flash-lite'] },
    refused: { strategy: 'cheapest', models: ['deepseek-flash', 'gpt-4o-mini'] },
  },
};

beforeAll(async () => {
  stack = await startStack();
  const closedPort = await freePort();
  gw = await stack.gateway({
    // Circuits stay closed so that one case's failures do not change the next case's route.
    config: {
      circuit: { failures: 1000, window_ms: 1000, open_ms: 1000 },
      // A hang gives up after 3 s: long enough for a busy machine, short enough for the suite.
      upstream: { connect_timeout_ms: 3_000, timeout_ms: 3_000, stream_idle_timeout_ms: 3_000 },
    },
    env: { DEEPSEEK_BASE_URL: `http://127.0.0.1:${closedPort}` },
  });
  tenant = await createTenant(gw, 'upstream-faults', policy);
});
afterAll(async () => stack?.close());
beforeEach(() => stack.sim.clearFaults());

async function send(body: Record<string, unknown>): Promise<Answer> {
  sent++;
  return chat(gw, tenant.key, body);
}

/** The ledger row of one request, once the writer has flushed it. */
async function rowOf(a: Answer): Promise<LedgerRow> {
  let row: LedgerRow | undefined;
  await until(async () => {
    row = (await ledgerRows(stack.sql, tenant.tenantId)).find((r) => r.request_id === a.requestId);
    return row !== undefined;
  });
  return row!;
}

const errorOf = (a: Answer) => (JSON.parse(a.text) as { error: { type: string; code: string | null; message: string } }).error;

describe('upstream faults through the process', () => {
  it.each([
    [500, 'api_error'],
    [503, 'api_error'],
  ])('upstream %i → the same status, OpenAI-shaped, metered at zero cost', async (status, type) => {
    stack.sim.setFaults([{ provider: 'openai', fault: { type: 'status', status }, times: 1 }]);
    const a = await send(ask(`status ${status}`));
    expect(a.status).toBe(status);
    expect(errorOf(a).type).toBe(type);
    const row = await rowOf(a);
    expect(row).toMatchObject({ status, outcome: 'error', cost_pico: '0' });
  });

  it('upstream 429 with Retry-After → 429 rate_limit_exceeded carrying retry-after; the SDK sees RateLimitError', async () => {
    stack.sim.setFaults([{ provider: 'openai', fault: { type: 'status', status: 429, retryAfterS: 7 }, times: 1 }]);
    const a = await send(ask('rate limited'));
    expect(a.status).toBe(429);
    expect(a.headers.get('retry-after')).toBe('7');
    expect(errorOf(a).code).toBe('rate_limit_exceeded');
    expect(await rowOf(a)).toMatchObject({ status: 429, outcome: 'error', cost_pico: '0' });

    stack.sim.setFaults([{ provider: 'openai', fault: { type: 'status', status: 429, retryAfterS: 7 }, times: 1 }]);
    const client = new OpenAI({ apiKey: tenant.key, baseURL: gw.baseURL, maxRetries: 0 });
    sent++;
    const err = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'sdk' }], max_tokens: 8 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
  });

  it('connection refused on a pinned model → 502; on a route → falls back to the next provider, one clean answer', async () => {
    const a = await send(ask('refused', { model: 'deepseek-flash' }));
    expect(a.status).toBe(502);
    expect(errorOf(a).message).toMatch(/connection failed/);
    expect(await rowOf(a)).toMatchObject({ status: 502, outcome: 'error', cost_pico: '0' });

    const b = await send(ask('refused, then fallback', { model: 'refused' }));
    expect(b.status).toBe(200);
    expect(b.headers.get('x-tollgate-provider')).toBe('openai');
    expect(await rowOf(b)).toMatchObject({ status: 200, outcome: 'ok', provider: 'openai', usage_source: 'reported' });
  });

  it('an upstream that hangs past the timeout → 504, metered', async () => {
    stack.sim.setFaults([{ provider: 'openai', fault: { type: 'hang' }, times: 1 }]);
    const a = await send(ask('hang'));
    expect(a.status).toBe(504);
    expect(errorOf(a).code).toBe('upstream_timeout');
    expect(await rowOf(a)).toMatchObject({ status: 504, outcome: 'error', cost_pico: '0' });
  });

  it.each([false, true])('connection reset before the first byte (stream %s) → fallback, one clean response', async (stream) => {
    const probe = await send(ask('who serves first', { model: 'fb' }));
    const first = probe.headers.get('x-tollgate-provider') as 'openai' | 'gemini';
    stack.sim.setFaults([{ provider: first, fault: { type: 'reset' }, times: 1 }]);
    const a = await send(ask(`reset ${stream}`, { model: 'fb', ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}) }));
    expect(a.status).toBe(200);
    expect(a.headers.get('x-tollgate-provider')).not.toBe(first);
    if (stream) {
      expect(a.text).not.toContain('"error"');
      expect(a.text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    } else {
      expect((JSON.parse(a.text) as { choices: unknown[] }).choices).toHaveLength(1);
    }
    const row = await rowOf(a);
    expect(row).toMatchObject({ status: 200, outcome: 'ok', usage_source: 'reported' });
    expect(row.provider).not.toBe(first);
  });

  it('a stream cut midway → a clean OpenAI error event in the SSE, partial usage metered as estimated', async () => {
    stack.sim.setFaults([{ provider: 'openai', fault: { type: 'cut', afterChunks: 4 }, times: 1 }]);
    const a = await send(ask('cut me', { max_tokens: 40, stream: true, stream_options: { include_usage: true } }));
    expect(a.status).toBe(200);
    const events = a.text.split('\n\n').filter((e) => e.startsWith('data: '));
    const payloads = events.map((e) => e.slice(6)).filter((p) => p !== '[DONE]').map((p) => JSON.parse(p) as Record<string, unknown>);
    const errors = payloads.filter((p) => 'error' in p);
    expect(errors).toHaveLength(1);
    expect(errors[0].error).toMatchObject({ type: expect.any(String), message: expect.any(String) });
    expect(payloads.indexOf(errors[0])).toBe(payloads.length - 1);
    const content = payloads.filter((p) => Array.isArray(p.choices) && (p.choices as unknown[]).length > 0).length;
    expect(content).toBeGreaterThan(0);
    const row = await rowOf(a);
    expect(row).toMatchObject({ status: 200, outcome: 'error', usage_source: 'estimated' });
    expect(row.output_tokens).toBeGreaterThan(0);
    expect(BigInt(row.cost_pico)).toBeGreaterThan(0n);
  });

  it('meters every request it was sent, once', async () => {
    await until(async () => (await ledgerRows(stack.sql, tenant.tenantId)).length >= sent);
    const rows = await ledgerRows(stack.sql, tenant.tenantId);
    expect(rows.length).toBe(sent);
    expect(new Set(rows.map((r) => r.request_id)).size).toBe(sent);
    console.info(`upstream faults: sent ${sent}, metered ${rows.length}`);
  });
});
