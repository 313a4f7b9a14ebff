// A stand-in admin API for the dashboard test: fixed ledger-grain rows, grouped and formatted by the real spend code.
import { Hono } from 'hono';
import { parseSpendQuery } from '../../src/http/admin/spend.js';
import { formatSpendCsv, formatSpendJson } from '../../src/metering/spend-format.js';
import { policySchema, type PolicyInput } from '../../src/routing/policy.js';
import type { SpendQuery, SpendRow } from '../../src/store/interface.js';
import { prng } from '../observability/support.js';

export interface StubTenant {
  id: string;
  name: string;
  policy: PolicyInput;
}

export const stubTenants: StubTenant[] = [
  { id: 'ten_acme', name: 'Acme Corp', policy: { budgets: { monthly: { limit_usd: '900' } } } },
  { id: 'ten_globex', name: 'Globex', policy: { budgets: { monthly: { limit_usd: '45.50' } } } },
  { id: 'ten_initech', name: 'Initech', policy: {} },
];

const models: Array<[string, string]> = [
  ['deepseek', 'deepseek-flash'],
  ['openai', 'gpt-4o-mini'],
  ['openai', 'gpt-4.1'],
  ['gemini', 'gemini-2.5-flash'],
];

/** One row per day × tenant × provider × model from `fromDay` to `toDay` inclusive, amounts with all 12 decimals. */
export function fixtureRows(fromDay: string, toDay: string, seed = 42): SpendRow[] {
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const rows: SpendRow[] = [];
  for (let t = Date.parse(`${fromDay}T00:00:00Z`); t <= Date.parse(`${toDay}T00:00:00Z`); t += 86_400_000) {
    const day = new Date(t).toISOString().slice(0, 10);
    for (const tenant of stubTenants) {
      for (const [provider, model] of models) {
        const scale = tenant.id === 'ten_acme' ? 6 : tenant.id === 'ten_globex' ? 2 : 1;
        const costPico = BigInt(int(1_000_000)) * BigInt(int(1_000_000) * scale) + BigInt(int(1000));
        const requests = 1 + int(400);
        rows.push({
          group: { day, tenant: tenant.id, provider, model },
          requests,
          errors: int(Math.ceil(requests / 25)),
          cacheHits: int(20),
          inputTokens: requests * (200 + int(3000)),
          cachedInputTokens: requests * int(100),
          outputTokens: requests * (50 + int(500)),
          reasoningTokens: provider === 'deepseek' ? requests * int(200) : 0,
          costPico,
          baselineCostPico: model === 'gpt-4.1' ? costPico : costPico * BigInt(2 + int(8)) + BigInt(int(1_000_000_000)),
          savedResponseCachePico: BigInt(int(100_000_000)),
          savedPromptCachePico: BigInt(int(300_000_000)),
          savedOffPeakPico: provider === 'deepseek' ? BigInt(int(2_000_000_000)) : 0n,
        });
      }
    }
  }
  return rows;
}

/** What the store's spend() would return for these rows: filtered by time and tenant, summed per group. */
export function groupFixture(rows: readonly SpendRow[], q: SpendQuery): SpendRow[] {
  const out = new Map<string, SpendRow>();
  for (const r of rows) {
    const t = Date.parse(`${r.group.day}T00:00:00Z`);
    if (t < q.from.getTime() || t >= q.to.getTime()) continue;
    if (q.tenantId !== undefined && r.group.tenant !== q.tenantId) continue;
    const key = q.groupBy.map((k) => r.group[k] ?? '').join('\u0000');
    const acc = out.get(key);
    if (!acc) {
      const group: SpendRow['group'] = {};
      for (const k of q.groupBy) group[k] = r.group[k];
      out.set(key, { ...r, group });
      continue;
    }
    acc.requests += r.requests;
    acc.errors += r.errors;
    acc.cacheHits += r.cacheHits;
    acc.inputTokens += r.inputTokens;
    acc.cachedInputTokens += r.cachedInputTokens;
    acc.outputTokens += r.outputTokens;
    acc.reasoningTokens += r.reasoningTokens;
    acc.costPico += r.costPico;
    acc.baselineCostPico += r.baselineCostPico;
    acc.savedResponseCachePico += r.savedResponseCachePico;
    acc.savedPromptCachePico += r.savedPromptCachePico;
    acc.savedOffPeakPico += r.savedOffPeakPico;
  }
  return [...out.values()];
}

export function createStubAdmin(options: { token: string; rows: readonly SpendRow[]; now: () => Date }): Hono {
  const app = new Hono();
  app.use('/admin/*', async (c, next) => {
    if (c.req.header('authorization') !== `Bearer ${options.token}`) {
      return c.json({ error: { message: 'Invalid admin token.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }, 401);
    }
    await next();
  });
  app.get('/admin/tenants', (c) =>
    c.json({
      object: 'list',
      data: stubTenants.map((t) => ({
        object: 'tenant',
        id: t.id,
        name: t.name,
        disabled: false,
        policy: policySchema.parse(t.policy),
        policy_version: 1,
        created_at: '2026-01-01T00:00:00.000Z',
      })),
    }),
  );
  app.get('/admin/spend', (c) => {
    const { query, format } = parseSpendQuery(c.req.query(), options.now(), null);
    const rows = groupFixture(options.rows, query);
    if (format === 'csv') return c.body(formatSpendCsv(rows, query), 200, { 'content-type': 'text/csv; charset=utf-8' });
    return c.json(formatSpendJson(rows, query));
  });
  return app;
}
