// Streams are forwarded as they arrive: measured with a slow simulator, not assumed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';

let h: Harness;
let key: string;

beforeAll(async () => {
  h = await startHarness({ clock: () => new Date('2026-11-25T12:00:00Z'), sim: { chunkDelayMs: 60 } });
  ({ key } = await h.createTenant('stream'));
});
afterAll(async () => h?.close());

function open(model: string, extra: object = {}) {
  return fetch(`${h.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream: true, max_tokens: 1000, messages: [{ role: 'user', content: 'tell me a story' }], ...extra }),
  });
}

describe.each(['gpt-4o-mini', 'deepseek-flash', 'gemini-2.5-flash'])('%s stream', (model) => {
  it('reaches the client before the upstream has finished', async () => {
    const res = await open(model);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toMatch(/^data: /);
    // The simulator records a request when it has finished sending it: not yet.
    const doneBefore = h.sim.records().length;
    let rest = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(rest.trimEnd().slice(-200)).toMatch(/data: \[DONE\]$/);
    expect(h.sim.records().length).toBe(doneBefore + 1);
  });

  it('aborts the upstream when the client goes away, and meters what was delivered', async () => {
    const before = h.sim.records().length;
    const ac = new AbortController();
    const res = await fetch(`${h.baseURL}/chat/completions`, {
      method: 'POST',
      signal: ac.signal,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, stream: true, max_tokens: 200, messages: [{ role: 'user', content: 'a long one' }] }),
    });
    const reader = res.body!.getReader();
    await reader.read();
    await reader.read();
    ac.abort();
    await expect.poll(() => h.sim.records().length, { timeout: 5000 }).toBe(before + 1);
    const rec = h.sim.records().at(-1)!;
    expect(rec.aborted).toBe(true);
    expect(rec.completionTokens).toBeLessThan(200);
    await h.flushLedger();
    await expect
      .poll(async () => (await h.built.deps.store.spend({ from: new Date(0), to: new Date('2100-01-01'), groupBy: ['model'] })).find((r) => r.group.model === model)?.requests ?? 0)
      .toBeGreaterThanOrEqual(2);
  });
});

describe('concurrent streams per tenant', () => {
  it('refuses a stream beyond the policy limit with 429 too_many_streams, and frees the slot when a stream ends', async () => {
    const t = await h.createTenant('two-streams', { rate_limits: { max_concurrent_streams: 2 } });
    const open2 = (body: object) =>
      fetch(`${h.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, max_tokens: 30, messages: [{ role: 'user', content: 'go' }], ...body }),
      });
    const a = await open2({});
    const b = await open2({});
    expect([a.status, b.status]).toEqual([200, 200]);
    const c = await open2({});
    expect(c.status).toBe(429);
    expect(((await c.json()) as { error: { code: string } }).error.code).toBe('too_many_streams');
    // Non-streaming requests are not counted.
    const plain = await open2({ stream: false });
    expect(plain.status).toBe(200);
    await plain.text();
    await a.text();
    const d = await open2({});
    expect(d.status).toBe(200);
    await Promise.all([b.text(), d.text()]);
  });
});
