// Routing through the whole gateway and the simulator: tariffs, jurisdiction denial, fallback, circuit breaking, explain.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';

let now = new Date('2026-11-25T12:00:00Z'); // a Wednesday, DeepSeek off-peak
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ clock: () => now, overrides: { circuit: { failures: 5, window_ms: 30_000, open_ms: 1_500 } } });
});
afterAll(async () => h?.close());

const ask = { messages: [{ role: 'user' as const, content: 'Summarise the quarterly report in two lines.' }], max_tokens: 200 };

describe('routing through the gateway', () => {
  it('sends the same request to DeepSeek off-peak and elsewhere at peak', async () => {
    // Best quality under a $0.20 / 1M input cap: DeepSeek Flash costs $0.15 off-peak and $0.30 at peak.
    const { key } = await h.createTenant('tariff', { routes: { auto: { strategy: 'best_quality', max_input_price: '0.20' } } });
    const client = new OpenAI({ baseURL: h.baseURL, apiKey: key, maxRetries: 0 });
    now = new Date('2026-11-25T12:00:00Z');
    const off = await client.chat.completions.create({ model: 'auto', ...ask }).withResponse();
    expect(off.response.headers.get('x-tollgate-model')).toBe('deepseek-flash');
    now = new Date('2026-11-25T02:00:00Z');
    const peak = await client.chat.completions.create({ model: 'auto', ...ask }).withResponse();
    expect(peak.response.headers.get('x-tollgate-provider')).not.toBe('deepseek');
    now = new Date('2026-11-25T12:00:00Z');
  });

  it('a tenant denying cn never reaches DeepSeek, whatever the alias', async () => {
    const { key } = await h.createTenant('no-cn', {
      deny: { jurisdictions: ['cn'] },
      routes: { auto: { strategy: 'best_quality' }, cheap: { strategy: 'cheapest' }, value: { strategy: 'best_value' } },
    });
    const client = new OpenAI({ baseURL: h.baseURL, apiKey: key, maxRetries: 0 });
    const before = h.sim.records().filter((r) => r.provider === 'deepseek').length;
    for (const model of ['auto', 'cheap', 'value']) {
      const r = await client.chat.completions.create({ model, ...ask }).withResponse();
      expect(r.response.headers.get('x-tollgate-provider')).not.toBe('deepseek');
    }
    const pinned = await client.chat.completions.create({ model: 'deepseek-flash', ...ask }).catch((e: unknown) => e);
    expect(pinned).toBeInstanceOf(OpenAI.NotFoundError);
    expect(h.sim.records().filter((r) => r.provider === 'deepseek').length).toBe(before);
    const models = await client.models.list();
    expect(models.data.some((m) => m.owned_by === 'deepseek')).toBe(false);
  });

  it('skips a provider answering 503 and the client sees one clean response', async () => {
    const { key, tenant } = await h.createTenant('fallback', { routes: { auto: { strategy: 'cheapest' } } });
    const client = new OpenAI({ baseURL: h.baseURL, apiKey: key, maxRetries: 0 });
    const first = await client.chat.completions.create({ model: 'auto', ...ask }).withResponse();
    const firstModel = first.response.headers.get('x-tollgate-model')!;
    h.sim.setFaults([{ model: firstModel, fault: { type: 'status', status: 503 }, times: 1 }]);
    const r = await client.chat.completions.create({ model: 'auto', ...ask }).withResponse();
    expect(r.data.choices[0].message.content).toBeTruthy();
    expect(r.response.headers.get('x-tollgate-model')).not.toBe(firstModel);
    expect(r.response.headers.get('x-tollgate-route')).toContain('fallbacks=1');
    h.sim.clearFaults();
    await h.flushLedger();
    const rows = await h.built.deps.store.spend({ from: new Date(0), to: new Date('2100-01-01'), tenantId: tenant.id, groupBy: ['model'] });
    expect(rows.reduce((n, x) => n + x.requests, 0)).toBe(2); // one ledger row per request, attempts inside it
    const metrics = await h.built.deps.metrics.metricsText();
    expect(metrics).toMatch(new RegExp(`tollgate_fallbacks_total\\{from="${firstModel}",to="[^"]+"\\} 1`));
  });

  it('opens a circuit after repeated failures and recovers', async () => {
    const { key } = await h.createTenant('circuit', { routes: { auto: { strategy: 'cheapest', max_attempts: 2 } } });
    const client = new OpenAI({ baseURL: h.baseURL, apiKey: key, maxRetries: 0 });
    const first = await client.chat.completions.create({ model: 'auto', ...ask }).withResponse();
    const victim = first.response.headers.get('x-tollgate-model')!;
    const provider = first.response.headers.get('x-tollgate-provider') as 'openai' | 'deepseek' | 'gemini';
    h.sim.setFaults([{ model: victim, fault: { type: 'status', status: 500 } }]);
    for (let i = 0; i < 6; i++) await client.chat.completions.create({ model: 'auto', ...ask });
    expect(h.built.deps.health.state(provider, victim)).toBe('open');
    // While open, the victim is not even tried: the next request goes straight to another model.
    const attemptsBefore = h.sim.records().filter((r) => r.model === victim).length;
    const during = await client.chat.completions.create({ model: 'auto', ...ask }).withResponse();
    expect(during.response.headers.get('x-tollgate-route')).toContain('fallbacks=0');
    expect(h.sim.records().filter((r) => r.model === victim).length).toBe(attemptsBefore);
    const explained = await fetch(`${h.baseURL}/route/explain`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'auto', ...ask }),
    }).then((r) => r.json() as Promise<{ excluded: Array<{ model: string; reasons: string[] }> }>);
    expect(explained.excluded.find((e) => e.model === victim)?.reasons.join(' ')).toMatch(/circuit/);
    // The provider heals; after the open period one probe closes the circuit again.
    h.sim.clearFaults();
    await new Promise((r) => setTimeout(r, 1_600));
    const healed = await client.chat.completions.create({ model: 'auto', ...ask }).withResponse();
    expect(healed.response.headers.get('x-tollgate-model')).toBe(victim);
    expect(h.built.deps.health.state(provider, victim)).toBe('closed');
  });
});
