// Every error case of the gateway core: status, type, code and param, OpenAI-shaped, with x-request-id.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';

let h: Harness;
let key: string;
const clock = () => new Date('2026-11-25T12:00:00Z');

beforeAll(async () => {
  h = await startHarness({
    clock,
    withoutKeys: ['gemini'],
    overrides: {
      server: { body_limit_bytes: 64 * 1024, max_messages: 50, max_header_bytes: 16384, request_timeout_ms: 60_000, shutdown_grace_ms: 1000, log_prompts: false, auth_failures_per_minute: 1000 },
      upstream: { connect_timeout_ms: 1000, timeout_ms: 800, stream_idle_timeout_ms: 800, connections_per_origin: 16, fetch_images: false, image_max_bytes: 1 << 20, image_timeout_ms: 1000 },
    },
  });
  ({ key } = await h.createTenant('errors'));
});
afterAll(async () => h?.close());

async function post(body: string | object, headers: Record<string, string> = {}) {
  const res = await fetch(`${h.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const json = (await res.json()) as { error: { message: string; type: string; code: string | null; param: string | null } };
  expect(res.headers.get('x-request-id')).toMatch(/^req_/);
  expect(Object.keys(json.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  return { status: res.status, error: json.error, headers: res.headers };
}

const hi = [{ role: 'user', content: 'hi' }];

describe('client errors', () => {
  it('invalid JSON → 400 invalid_json', async () => {
    const r = await post('{"model": "gpt-4o-mini", "messages": [');
    expect(r.status).toBe(400);
    expect(r.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_json', param: null });
  });

  it('missing field → 400 naming the param', async () => {
    const r = await post({ messages: hi });
    expect(r.status).toBe(400);
    expect(r.error).toMatchObject({ type: 'invalid_request_error', param: 'model' });
  });

  it('wrongly typed field → 400 naming the param', async () => {
    const r = await post({ model: 'gpt-4o-mini', messages: hi, temperature: 'hot' });
    expect(r.status).toBe(400);
    expect(r.error).toMatchObject({ type: 'invalid_request_error', param: 'temperature', code: 'invalid_value' });
    const nested = await post({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 42 }] });
    expect(nested.status).toBe(400);
    expect(nested.error.param).toMatch(/^messages\[0\]/);
  });

  it('unknown model → 404 model_not_found', async () => {
    const r = await post({ model: 'gpt-99', messages: hi });
    expect(r.status).toBe(404);
    expect(r.error).toMatchObject({ type: 'invalid_request_error', code: 'model_not_found', param: 'model' });
  });

  it('body over the limit → 413', async () => {
    const r = await post({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(70 * 1024) }] });
    expect(r.status).toBe(413);
    expect(r.error).toMatchObject({ type: 'invalid_request_error', code: 'request_too_large' });
  });

  it('too many messages → 400 naming messages', async () => {
    const r = await post({ model: 'gpt-4o-mini', messages: Array.from({ length: 51 }, () => hi[0]) });
    expect(r.status).toBe(400);
    expect(r.error.param).toBe('messages');
  });
});

describe('provider errors', () => {
  it('provider without a key → 503 saying which key is missing', async () => {
    const r = await post({ model: 'gemini-2.5-flash', messages: hi });
    expect(r.status).toBe(503);
    expect(r.error.type).toBe('api_error');
    expect(r.error.code).toBe('provider_not_configured');
    expect(r.error.message).toContain('GEMINI_API_KEY');
  });

  it('upstream 429 and 5xx are passed on with their status and shape', async () => {
    h.sim.setFaults([{ provider: 'openai', fault: { type: 'status', status: 429, retryAfterS: 3 }, times: 1 }]);
    const r429 = await post({ model: 'gpt-4o-mini', messages: hi });
    expect(r429.status).toBe(429);
    expect(r429.error.code).toBe('rate_limit_exceeded');
    expect(r429.headers.get('retry-after')).toBe('3');
    for (const status of [500, 503]) {
      h.sim.setFaults([{ provider: 'openai', fault: { type: 'status', status }, times: 1 }]);
      const r = await post({ model: 'gpt-4o-mini', messages: hi });
      expect(r.status).toBe(status);
      expect(r.error.type).toBe('api_error');
    }
    h.sim.clearFaults();
  });

  it('upstream timeout → 504', async () => {
    h.sim.setFaults([{ provider: 'deepseek', fault: { type: 'hang' }, times: 1 }]);
    const r = await post({ model: 'deepseek-flash', messages: hi });
    expect(r.status).toBe(504);
    expect(r.error).toMatchObject({ type: 'api_error', code: 'upstream_timeout' });
    h.sim.clearFaults();
  });

  it('upstream rejecting the gateway key → 502 for the operator, never 401, never the key', async () => {
    h.sim.setFaults([{ provider: 'openai', fault: { type: 'auth' }, times: 1 }]);
    const r = await post({ model: 'gpt-4o-mini', messages: hi });
    expect(r.status).toBe(502);
    expect(r.error.code).toBe('upstream_auth_failed');
    expect(r.error.message).toContain('OPENAI_API_KEY');
    expect(JSON.stringify(r.error)).not.toContain('sk-sim-openai');
    h.sim.clearFaults();
  });
});

