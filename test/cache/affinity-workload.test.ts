// Cache-affinity routing on a workload: the same few hundred requests sharing a few long system prompts, sent by a
// tenant with cache affinity and by one without, across the 01:00 UTC DeepSeek peak-tariff switch. Compares the ledger.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usdToPico } from '../../src/metering/money.js';
import { countTokens } from '../../src/metering/tokens.js';
import { startHarness, type Harness } from '../support/harness.js';
import { uniqueId } from '../support/services.js';

// Thursday 2026-11-26, 00:50 → 01:10 UTC: DeepSeek goes from off-peak (same list prices as gpt-4o-mini) to peak.
const START = Date.parse('2026-11-26T00:50:00Z');
const STEP_MS = 8_000;
const REQUESTS = 150; // per tenant: 300 requests in all
const PROMPTS = 4;

let now = START;
let h: Harness;

/** A deterministic pseudo-English system prompt of about `tokens` tokens, distinct per seed. */
function systemPrompt(seed: string, tokens: number): string {
  const words = ['policy', 'customer', 'invoice', 'refund', 'shipment', 'warranty', 'account', 'ticket', 'order', 'support', 'billing', 'escalate', 'priority', 'contract', 'renewal', 'discount'];
  let x = [...seed].reduce((a, c) => (a * 31 + c.charCodeAt(0)) >>> 0, 7);
  const parts: string[] = [`You are the assistant of ${seed}. Follow these rules.`];
  let count = countTokens(parts[0]);
  while (count < tokens) {
    const line: string[] = [];
    for (let i = 0; i < 12; i++) {
      x = (x * 1_103_515_245 + 12_345) >>> 0;
      line.push(words[x % words.length]);
    }
    const rule = `\nRule ${parts.length}: ${line.join(' ')}.`;
    parts.push(rule);
    count += countTokens(rule); // close enough: the exact count of the whole text differs by a token or two
  }
  return parts.join('');
}

const policy = (affinity: boolean) => ({
  routes: { auto: { strategy: 'cheapest' as const, models: ['deepseek-flash', 'gpt-4o-mini'] } },
  cache: { affinity },
});

interface Run {
  tenantId: string;
  key: string;
  client: OpenAI;
  prompts: string[];
  served: Record<string, number>;
}

async function tenant(name: string, affinity: boolean): Promise<Run> {
  const { tenant: t, key } = await h.createTenant(`${name}-${uniqueId()}`, policy(affinity));
  // Prompts differ per tenant: the simulated providers' prompt caches are shared by every caller of one API key.
  const prompts = Array.from({ length: PROMPTS }, (_, i) => systemPrompt(`${t.id} desk ${i}`, 1_400 + 200 * i));
  return { tenantId: t.id, key, client: new OpenAI({ baseURL: h.baseURL, apiKey: key, maxRetries: 0 }), prompts, served: {} };
}

async function send(run: Run, i: number): Promise<void> {
  const { response } = await run.client.chat.completions
    .create({ model: 'auto', messages: [{ role: 'system', content: run.prompts[i % PROMPTS] }, { role: 'user', content: `Question ${i}: what about order ${i * 7}?` }] })
    .withResponse();
  const model = response.headers.get('x-tollgate-model') ?? '?';
  run.served[model] = (run.served[model] ?? 0) + 1;
}

interface Report {
  totals: {
    cost_usd: string;
    saved_usd: string;
    cached_input_tokens: number;
    savings: { response_cache_usd: string; prompt_cache_usd: string; off_peak_usd: string; routing_usd: string };
  };
}
async function report(run: Run): Promise<Report> {
  const from = new Date(START - 3_600_000).toISOString();
  const to = new Date(START + 3_600_000).toISOString();
  const res = await fetch(`${h.baseURL}/spend?from=${from}&to=${to}`, { headers: { authorization: `Bearer ${run.key}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as Report;
}

const signed = (usd: string) => (usd.startsWith('-') ? -usdToPico(usd.slice(1)) : usdToPico(usd));

beforeAll(async () => {
  h = await startHarness({ redis: true, clock: () => new Date(now) });
});
afterAll(async () => h?.close());

describe('cache affinity on a shared-prefix workload', () => {
  it('costs less with affinity, and the spend report attributes the prompt-cache savings', async () => {
    const withAffinity = await tenant('affinity-on', true);
    const without = await tenant('affinity-off', false);
    for (let i = 0; i < REQUESTS; i++) {
      now = START + i * STEP_MS;
      await send(withAffinity, i);
      await send(without, i);
    }
    await h.flushLedger();
    const on = await report(withAffinity);
    const off = await report(without);
    const costOn = usdToPico(on.totals.cost_usd);
    const costOff = usdToPico(off.totals.cost_usd);

    // Without affinity the router follows list prices and moves every prefix to gpt-4o-mini at 01:00 (cold cache, 50%
    // cached discount); with it, a warm DeepSeek prefix cache (98% discount) keeps DeepSeek ahead on real price.
    expect(without.served['gpt-4o-mini']).toBeGreaterThan(0);
    expect(withAffinity.served['deepseek-flash']).toBeGreaterThan(without.served['deepseek-flash'] ?? 0);
    expect(costOn).toBeLessThan(costOff);
    expect(usdToPico(on.totals.savings.prompt_cache_usd)).toBeGreaterThan(usdToPico(off.totals.savings.prompt_cache_usd));

    for (const r of [on, off]) {
      const s = r.totals.savings;
      expect(usdToPico(s.prompt_cache_usd)).toBeGreaterThan(0n);
      expect(signed(s.routing_usd) + usdToPico(s.prompt_cache_usd) + usdToPico(s.off_peak_usd) + usdToPico(s.response_cache_usd)).toBe(signed(r.totals.saved_usd));
    }
    const pct = Number(((costOff - costOn) * 10_000n) / costOff) / 100;
    console.info(
      `cache affinity: ${REQUESTS} requests per tenant; with ${on.totals.cost_usd} USD (${JSON.stringify(withAffinity.served)}, prompt_cache ${on.totals.savings.prompt_cache_usd}), ` +
        `without ${off.totals.cost_usd} USD (${JSON.stringify(without.served)}, prompt_cache ${off.totals.savings.prompt_cache_usd}); saving ${pct}%`,
    );
  }, 120_000);
});
