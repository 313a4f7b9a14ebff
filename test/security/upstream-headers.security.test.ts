// No client-controlled URL, host or header reaches the provider call: hostile headers and body fields against
// capture servers standing in for the three providers; and http(s) image URLs refused for Gemini by default.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { sendJson, startCaptureServer, type Captured, type CaptureServer } from '../providers/capture-server.js';
import { rawRequest } from '../fuzz/support.js';

/** Generous: the suite shares a 2-core machine with other integration suites; nothing here asserts durations. */
const SLOW = { timeout: 180_000 };

const MARK = 'hostile-marker-7f3a';
let h: Harness;
let sim: Harness;
let key = '';
let simKey = '';
const up: Record<'openai' | 'deepseek' | 'gemini', CaptureServer> = {} as never;
const clock = () => new Date('2026-11-25T12:00:00Z');

const completion = { id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop', logprobs: null }], usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } };
const geminiAnswer = { candidates: [{ content: { role: 'model', parts: [{ text: 'ok' }] }, finishReason: 'STOP', index: 0 }], usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 1, totalTokenCount: 4 }, modelVersion: 'gemini-2.5-flash' };

/** Headers a client might try to smuggle upstream (hop-by-hop ones undici refuses go by raw socket below). */
const hostile: Record<string, string> = {
  'x-forwarded-host': `evil.${MARK}.example`,
  'x-forwarded-for': '10.0.0.1',
  'x-forwarded-proto': 'gopher',
  forwarded: `for=1.2.3.4;host=${MARK}`,
  'x-real-ip': '10.0.0.2',
  'x-goog-api-key': `goog-${MARK}`,
  'x-api-key': '', // set to the tenant key below: the client's credential must not go upstream
  'openai-organization': `org-${MARK}`,
  'openai-project': `proj-${MARK}`,
  'openai-beta': `assistants=${MARK}`,
  'proxy-authorization': `Basic ${MARK}`,
  cookie: `session=${MARK}`,
  'x-sim-fault': 'status:500',
  'x-http-method-override': 'DELETE',
  'x-original-url': `/${MARK}`,
  'x-rewrite-url': `/${MARK}`,
  'x-tollgate-upstream': `http://${MARK}/`,
  'anthropic-version': MARK,
  'user-agent': `ua-${MARK}`,
};

beforeAll(async () => {
  for (const p of ['openai', 'deepseek', 'gemini'] as const) {
    up[p] = await startCaptureServer();
    up[p].respond((req, res) => sendJson(res, 200, p === 'gemini' ? geminiAnswer : { ...completion, model: String((req.json as { model?: string })?.model ?? 'x') }));
  }
  h = await startHarness({ clock, env: { OPENAI_BASE_URL: up.openai.url, DEEPSEEK_BASE_URL: up.deepseek.url, GEMINI_BASE_URL: up.gemini.url } });
  key = (await h.createTenant('hdr')).key;
  hostile['x-api-key'] = key;
  sim = await startHarness({ clock });
  simKey = (await sim.createTenant('img')).key;
}, 180_000);
afterAll(async () => {
  await h?.close();
  await sim?.close();
  for (const s of Object.values(up)) await s?.close();
}, 60_000);

/** What the gateway sent upstream must not carry anything the client chose, beyond the request body's content. */
function expectClean(r: Captured, provider: 'openai' | 'deepseek' | 'gemini'): void {
  const names = Object.keys(r.headers);
  for (const name of Object.keys(hostile)) if (name !== 'user-agent' && name !== 'x-goog-api-key') expect(names, `${provider} got ${name}`).not.toContain(name);
  const rawHeaders = JSON.stringify(r.headers);
  expect(rawHeaders, provider).not.toContain(MARK);
  expect(rawHeaders, provider).not.toContain(key);
  expect(r.url, provider).not.toContain(MARK);
  expect(r.body, provider).not.toContain(key);
  expect(r.headers.host, provider).toBe(new URL(up[provider].url).host);
  if (provider === 'gemini') {
    expect(r.headers['x-goog-api-key']).toBe('sim-gemini-key');
    expect(r.headers.authorization).toBeUndefined();
    expect(r.url).toMatch(/^\/v1beta\/models\/gemini-2\.5-flash:generateContent/);
  } else {
    expect(r.headers.authorization).toBe(provider === 'openai' ? 'Bearer sk-sim-openai' : 'Bearer sk-sim-deepseek');
    expect(r.url).toMatch(/\/chat\/completions$/);
  }
}

describe('no client header, host or URL reaches the provider', SLOW, () => {
  it.each([
    ['openai', 'gpt-4o-mini'],
    ['deepseek', 'deepseek-flash'],
    ['gemini', 'gemini-2.5-flash'],
  ] as const)('%s: hostile headers and URL-like body fields stay at the gateway', async (provider, model) => {
    const before = up[provider].requests.length;
    const body = {
      model,
      messages: [{ role: 'user', content: 'hi' }],
      max_tokens: 5,
      // Fields other gateways read as routing instructions: here they are at most opaque body content.
      base_url: `http://${MARK}/`,
      api_base: `http://${MARK}/`,
      extra_headers: { authorization: `Bearer ${MARK}`, 'x-goog-api-key': MARK },
      headers: { host: MARK },
    };
    const res = await fetch(`${h.baseURL}/chat/completions`, { method: 'POST', headers: { ...hostile, authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status, await res.clone().text()).toBe(200);
    await res.text();
    expect(up[provider].requests.length).toBe(before + 1);
    const got = up[provider].requests.at(-1)!;
    expectClean(got, provider);
    expect(got.headers['user-agent'] ?? '').not.toContain(MARK);
    expect(got.headers['x-goog-api-key'] ?? '').not.toContain(MARK);
  });

  it.each([false, true])('a raw request with a hostile Host, absolute-form URL, hop-by-hop headers (duplicate authorization: %s) reaches only the configured origin', async (dup) => {
    const before = up.openai.requests.length;
    const body = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 });
    const lines = [
      `POST http://${MARK}.example/v1/chat/completions HTTP/1.1`,
      `Host: ${MARK}.example`,
      `Authorization: Bearer ${key}`,
      ...(dup ? [`Authorization: Bearer sk-${MARK}`] : []),
      'Connection: close, x-forwarded-host',
      'Upgrade: websocket',
      'Keep-Alive: timeout=999',
      'TE: trailers',
      `Proxy-Connection: ${MARK}`,
      `X-Forwarded-Host: ${MARK}`,
      'Content-Type: application/json',
      `Content-Length: ${Buffer.byteLength(body)}`,
      '',
      body,
    ];
    const a = await rawRequest(h.url, lines.join('\r\n'));
    // Two authorizations are one ambiguous credential: refused. One: served, and only from the configured origin.
    expect(a.status, a.text).toBe(dup ? 401 : 200);
    expect(up.openai.requests.length).toBe(before + (dup ? 0 : 1));
    for (const r of up.openai.requests.slice(before)) expectClean(r, 'openai');
    for (const s of Object.values(up)) for (const r of s.requests) expect(JSON.stringify(r.headers)).not.toContain(MARK);
  });
});

describe('image URLs for Gemini', SLOW, () => {
  it.each(['http://169.254.169.254/latest/meta-data/iam', 'https://example.com/cat.png', 'http://127.0.0.1:6379/', 'file:///etc/passwd'])('%s is refused with 400 by default (no fetch)', async (url) => {
    const res = await fetch(`${sim.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${simKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gemini-2.5-flash', messages: [{ role: 'user', content: [{ type: 'text', text: 'what is it' }, { type: 'image_url', image_url: { url } }] }] }),
    });
    const json = (await res.json()) as { error: { message: string; param: string | null } };
    expect(res.status, json.error.message).toBe(400);
    expect(Object.keys(json.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(sim.sim.records().filter((r) => r.provider === 'gemini')).toHaveLength(0);
  });
});
