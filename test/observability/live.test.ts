// A live run through the whole gateway (simulated providers, real Postgres): /metrics agrees with the ledger, and lints clean.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usdToPico } from '../../src/metering/money.js';
import { startHarness, type Harness } from '../support/harness.js';
import { parseExposition, sumOf, type Sample } from './support.js';

// Off-peak for DeepSeek and before the Gemini 2.5 shutdown: every provider serves, with a tariff saving to attribute.
const clock = () => new Date('2026-11-25T12:00:00Z');
const models = ['gpt-4o-mini', 'deepseek-flash', 'gemini-2.5-flash', 'auto'];

let h: Harness;
const tenants: Array<{ id: string; name: string; key: string }> = [];
let sent = 0;
/** Why Postgres refused ledger rows, if it did: shown when the spool assertion fails. */
const insertErrors: string[] = [];

interface SpendJson {
  rows: Array<Record<string, unknown>>;
  totals: Record<string, unknown>;
}

async function chat(key: string, body: Record<string, unknown>): Promise<number> {
  const res = await fetch(`${h.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await res.text(); // a stream is read to its end, as a client would
  sent++;
  return res.status;
}

async function scrape(): Promise<{ text: string; samples: Sample[] }> {
  const text = await (await fetch(`${h.url}/metrics`)).text();
  return { text, samples: parseExposition(text) };
}

async function spend(groupBy: string): Promise<SpendJson> {
  const res = await h.admin(`/spend?from=2000-01-01&to=2100-01-01&group_by=${groupBy}`);
  expect(res.status).toBe(200);
  return (await res.json()) as SpendJson;
}

beforeAll(async () => {
  h = await startHarness({ clock, store: 'postgres' });
  const store = h.built.deps.store;
  const insert = store.insertLedger.bind(store);
  store.insertLedger = (events) =>
    insert(events).catch((e: unknown) => {
      insertErrors.push(String((e as { cause?: unknown }).cause ?? e));
      throw e;
    });
  for (const [name, policy] of [['live-alpha', {}], ['live-beta', { baseline_model: 'gpt-4.1' }]] as const) {
    const { tenant, key } = await h.createTenant(name, policy);
    tenants.push({ id: tenant.id, name, key });
  }
  for (const t of tenants) {
    for (const [i, model] of models.entries()) {
      const messages = [{ role: 'user', content: `Tell ${t.name} about ${model}, take ${i}.` }];
      expect(await chat(t.key, { model, messages, max_tokens: 60 + i * 10 })).toBe(200);
      expect(await chat(t.key, { model, messages, stream: true, stream_options: { include_usage: true } })).toBe(200);
      expect(await chat(t.key, { model, messages, stream: true })).toBe(200);
    }
    expect(await chat(t.key, { model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] })).toBe(404);
  }
  await h.flushLedger();
}, 120_000);

afterAll(async () => h?.close());

describe('live /metrics against the ledger', () => {
  it('gets every metered request into Postgres (nothing left in the spool)', async () => {
    await h.flushLedger();
    const stats = h.built.deps.ledger.stats();
    expect(stats.spooled, `ledger events were spooled: ${insertErrors.slice(0, 3).join(' | ')}`).toBe(0);
    expect(stats.written).toBeGreaterThan(0);
  });

  it('counts the same requests as the ledger', async () => {
    let ledger = 0;
    let metrics = 0;
    await expect
      .poll(async () => {
        await h.flushLedger();
        ledger = Number((await spend('tenant')).totals.requests);
        metrics = sumOf((await scrape()).samples, 'tollgate_requests_total');
        return ledger > 0 && ledger === metrics;
      }, { timeout: 10_000 })
      .toBe(true);
    expect(ledger).toBeGreaterThanOrEqual(sent - tenants.length); // every served request, whether or not 404s are metered
  });

  it('sums cost to the ledger total (float precision) and tokens token for token, per tenant', async () => {
    const { samples } = await scrape();
    const report = await spend('tenant');
    const total = usdToPico(String(report.totals.cost_usd));
    expect(total).toBeGreaterThan(0n);
    const asFloat = Number(total) / 1e12;
    expect(Math.abs(sumOf(samples, 'tollgate_cost_usd_total') - asFloat)).toBeLessThanOrEqual(asFloat * 1e-12);
    for (const t of tenants) {
      const row = report.rows.find((r) => r.tenant === t.id);
      expect(row, t.name).toBeDefined();
      if (!row) continue;
      const tok = (kind: string) => sumOf(samples, 'tollgate_tokens_total', { tenant: t.name, kind });
      expect(tok('input') + tok('cached_input')).toBe(row.input_tokens);
      expect(tok('cached_input')).toBe(row.cached_input_tokens);
      expect(tok('output') + tok('reasoning')).toBe(row.output_tokens);
      expect(tok('reasoning')).toBe(row.reasoning_tokens);
      const cost = Number(usdToPico(String(row.cost_usd))) / 1e12;
      expect(Math.abs(sumOf(samples, 'tollgate_cost_usd_total', { tenant: t.name }) - cost)).toBeLessThanOrEqual(cost * 1e-12);
      const baseline = Number(usdToPico(String(row.baseline_cost_usd))) / 1e12;
      expect(Math.abs(sumOf(samples, 'tollgate_baseline_cost_usd_total', { tenant: t.name }) - baseline)).toBeLessThanOrEqual(baseline * 1e-12);
    }
  });

  it('passes promtool check metrics on the live scrape', async () => {
    const { text } = await scrape();
    expect(text).toContain('tollgate_request_duration_seconds_bucket');
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    if (r.error) throw new Error(`promtool is required (apt-get install -y prometheus): ${r.error.message}`);
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  });
});
