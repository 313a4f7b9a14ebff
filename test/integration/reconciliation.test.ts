// Reconciliation: a few hundred mixed requests; the ledger total equals, to the last pico-dollar, the total computed
// here independently from the simulator's own usage records and the catalog YAML prices.
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';

// A Wednesday at 12:00 UTC: DeepSeek off-peak, every model here on its newest price row.
const NOW = new Date('2026-11-25T12:00:00Z');
let h: Harness;
let key: string;
let tenantId: string;

beforeAll(async () => {
  // Abandoned streams ask for 400 tokens, paced, so that they are still running when the client leaves.
  h = await startHarness({ clock: () => NOW, redis: true, sim: { defaultOutputTokens: 400, chunkDelayMs: 3 } });
  const t = await h.createTenant('reconcile', { budgets: { monthly: { limit_usd: '1000', mode: 'hard' } } });
  key = t.key;
  tenantId = t.tenant.id;
});
afterAll(async () => h?.close());

/** USD per 1M tokens → pico-USD per token, by string arithmetic (independent of src/metering/money.ts). */
function pico(usdPerMillion: string | number): bigint {
  const [whole, frac = ''] = String(usdPerMillion).split('.');
  return BigInt(whole + frac.padEnd(6, '0'));
}

interface YamlPrice { effective_from: string | Date; input: string; cached_input?: string; output?: string }
const catalog = parse(readFileSync('config/models.yaml', 'utf8')) as { models: Array<{ id: string; prices: YamlPrice[] }> };
function pricesOf(model: string) {
  const m = catalog.models.find((x) => x.id === model)!;
  const row = m.prices
    .filter((p) => new Date(p.effective_from).getTime() <= NOW.getTime())
    .sort((a, b) => new Date(b.effective_from).getTime() - new Date(a.effective_from).getTime())[0];
  return { input: pico(row.input), cached: pico(row.cached_input ?? row.input), output: pico(row.output ?? '0') };
}

const MODELS = ['gpt-4o-mini', 'gpt-5-mini', 'deepseek-flash', 'deepseek-v4-pro', 'gemini-2.5-flash', 'gemini-2.5-flash-lite'];
const SYSTEM = ['You review pull requests for a payments company. ', 'You answer tax questions for small shops. '].map((s) => s.repeat(150));

async function one(i: number): Promise<'ok' | 'aborted'> {
  const model = MODELS[i % MODELS.length];
  const stream = i % 2 === 1;
  const abandon = stream && i % 10 === 9;
  const body = {
    model,
    stream,
    stream_options: stream && i % 4 === 1 ? { include_usage: true } : undefined,
    reasoning_effort: i % 5 === 0 && model !== 'gpt-4o-mini' ? 'low' : undefined,
    max_tokens: abandon ? 400 : 20 + (i % 30),
    messages: [
      { role: 'system', content: SYSTEM[i % 2] },
      { role: 'user', content: `Request number ${i}: ${'details '.repeat(i % 7)}` },
    ],
  };
  const ac = new AbortController();
  const res = await fetch(`${h.baseURL}/chat/completions`, {
    method: 'POST',
    signal: ac.signal,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 200) throw new Error(`${model}: ${res.status} ${await res.text()}`);
  if (abandon) {
    const reader = res.body!.getReader();
    await reader.read();
    ac.abort();
    return 'aborted';
  }
  await res.text();
  return 'ok';
}

describe('ledger reconciliation', () => {
  it('equals the simulator usage × catalog prices to the last digit', async () => {
    const N = 240;
    let next = 0;
    const outcomes: string[] = [];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < N) outcomes.push(await one(next++));
      }),
    );
    const aborted = outcomes.filter((o) => o === "aborted").length;
    expect(aborted).toBeGreaterThan(5);
    // Every request is metered exactly once (aborted ones too).
    await expect.poll(async () => { await h.flushLedger(); return h.built.deps.store.ledgerCount({ tenantId }); }, { timeout: 15_000 }).toBe(N);

    const records = h.sim.records().filter((r) => r.endpoint === 'chat');
    expect(records.length).toBe(N);
    let expected = 0n;
    let cachedSeen = 0;
    let reasoningSeen = 0;
    for (const r of records.filter((x) => !x.aborted)) {
      const p = pricesOf(r.model);
      expected += BigInt(r.promptTokens - r.cachedTokens) * p.input + BigInt(r.cachedTokens) * p.cached + BigInt(r.completionTokens) * p.output;
      cachedSeen += r.cachedTokens;
      reasoningSeen += r.reasoningTokens;
    }
    expect(cachedSeen).toBeGreaterThan(0);
    expect(reasoningSeen).toBeGreaterThan(0);

    const rows = await h.built.deps.store.spend({ from: new Date(NOW.getTime() - 3600_000), to: new Date(NOW.getTime() + 3600_000), tenantId, groupBy: [] });
    const total = rows.reduce((s, r) => s + r.costPico, 0n);
    const abortedRows = await h.built.deps.store.spend({ from: new Date(0), to: new Date('2100-01-01'), tenantId, groupBy: ['model'] });
    expect(abortedRows.length).toBeGreaterThan(0);

    // Reported usage reconciles exactly. Abandoned streams are metered from the tokens the gateway received (marked
    // estimated): at most what the simulator wrote before it saw the disconnect.
    const abortedCost = total - expected;
    let abortedUpper = 0n;
    for (const r of records.filter((x) => x.aborted)) {
      const p = pricesOf(r.model);
      abortedUpper += BigInt(r.promptTokens) * p.input + BigInt(r.completionTokens) * p.output;
    }
    expect(abortedCost).toBeGreaterThan(0n);
    expect(abortedCost).toBeLessThanOrEqual(abortedUpper);
    const { ledgerExactSum } = await exactNonAborted();
    expect(ledgerExactSum).toBe(expected);
  }, 120_000);
});

async function exactNonAborted(): Promise<{ ledgerExactSum: bigint }> {
  // Sum of the rows whose usage the provider reported (not the estimated, abandoned ones), read straight from Postgres.
  const [r] = await h.sql()<{ s: string }[]>`select coalesce(sum(cost_pico),0)::text as s from usage_ledger where tenant_id = ${tenantId} and usage_source = 'reported'`;
  return { ledgerExactSum: BigInt(r.s) };
}
