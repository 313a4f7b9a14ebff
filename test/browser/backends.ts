// The two backends the dashboard test runs against: a stub admin API, and the real gateway with a seeded ledger.
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { createDashboardRoutes } from '../../src/dashboard/routes.js';
import type { LedgerEvent } from '../../src/metering/ledger-event.js';
import type { ProviderName } from '../../src/providers/types.js';
import { policySchema } from '../../src/routing/policy.js';
import type { SpendRow } from '../../src/store/interface.js';
import { startHarness } from '../support/harness.js';
import { createStubAdmin, stubTenants } from './stub-admin.js';

/** What the test expects, independently of the API: cost per UTC day and tenant id. */
export interface CostFact {
  day: string;
  tenantId: string;
  costPico: bigint;
}

export interface Backend {
  base: string;
  token: string;
  facts: CostFact[];
  /** Fixture tenant id (`ten_acme`) → id in this backend. */
  tenantId(fixtureId: string): string;
  close(): Promise<void>;
}

const STUB_TOKEN = 'admin-test-token-5f2c';

export async function startStubBackend(rows: readonly SpendRow[], now: Date): Promise<Backend> {
  const app = new Hono();
  app.route('/', createStubAdmin({ token: STUB_TOKEN, rows, now: () => now }));
  app.route('/', createDashboardRoutes());
  const server: ServerType = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    token: STUB_TOKEN,
    facts: rows.map((r) => ({ day: r.group.day ?? '', tenantId: r.group.tenant ?? '', costPico: r.costPico })),
    tenantId: (id) => id,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** One ledger event per fixture row (its tokens and money), every 9th a failed request with zero cost. */
function eventsFrom(rows: readonly SpendRow[], ids: Map<string, string>): LedgerEvent[] {
  return rows.map((r, i) => {
    const failed = i % 9 === 4;
    const hour = 1 + (i % 22);
    return {
      requestId: `req_seed_${i}`,
      tenantId: ids.get(r.group.tenant ?? '') ?? '',
      keyId: null,
      endpoint: 'chat',
      route: i % 2 ? 'auto' : null,
      provider: r.group.provider as ProviderName,
      model: r.group.model ?? null,
      stream: i % 3 === 0,
      inputTokens: r.inputTokens,
      cachedInputTokens: r.cachedInputTokens,
      outputTokens: r.outputTokens,
      reasoningTokens: r.reasoningTokens,
      usageSource: 'reported',
      costPico: failed ? 0n : r.costPico,
      baselineCostPico: failed ? 0n : r.baselineCostPico,
      savedResponseCachePico: failed ? 0n : r.savedResponseCachePico,
      savedPromptCachePico: failed ? 0n : r.savedPromptCachePico,
      savedOffPeakPico: failed ? 0n : r.savedOffPeakPico,
      priceVersion: `${r.group.model}@2025-07-01T00:00:00.000Z`,
      status: failed ? 502 : 200,
      outcome: failed ? 'error' : 'ok',
      errorCode: failed ? 'upstream_error' : null,
      cacheHit: false,
      attempts: [],
      latencyMs: 100 + (i % 900),
      ttftMs: null,
      startedAt: new Date(`${r.group.day}T${String(hour).padStart(2, '0')}:17:00Z`),
    };
  });
}

export async function startRealBackend(rows: readonly SpendRow[], now: Date): Promise<Backend> {
  const h = await startHarness({ clock: () => now, store: 'postgres' });
  const ids = new Map<string, string>();
  for (const t of stubTenants) {
    const tenant = await h.built.deps.store.createTenant({ name: t.name, policy: policySchema.parse(t.policy) });
    ids.set(t.id, tenant.id);
  }
  const events = eventsFrom(rows, ids);
  for (let i = 0; i < events.length; i += 200) await h.built.deps.store.insertLedger(events.slice(i, i + 200));
  return {
    base: h.url,
    token: h.adminToken,
    facts: events.map((e) => ({ day: e.startedAt.toISOString().slice(0, 10), tenantId: e.tenantId, costPico: e.costPico })),
    tenantId: (id) => ids.get(id) ?? id,
    close: () => h.close(),
  };
}
