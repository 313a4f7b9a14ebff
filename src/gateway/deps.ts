// Everything the request path needs, built once in server.ts (or a test harness) and handed to createApp().
import type { Config } from '../config/index.js';
import type { LedgerWriter } from '../metering/ledger-writer.js';
import type { StreamLimiter } from '../limits/streams.js';
import type { Limiter, BudgetState } from '../limits/interface.js';
import type { Provider, ProviderName } from '../providers/types.js';
import type { Store } from '../store/interface.js';
import type { Health } from '../routing/health.js';
import type { Affinity } from '../routing/affinity.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Logger } from '../logger.js';
import type { ResponseCache } from '../cache/interface.js';

export interface GatewayDeps {
  config: Config;
  clock: () => Date;
  store: Store;
  limiter: Limiter;
  ledger: LedgerWriter;
  metrics: Metrics;
  providers: ReadonlyMap<ProviderName, Provider>;
  /** Providers without a key, with the reason ("OPENAI_API_KEY is not set"). */
  missingProviders: ReadonlyMap<ProviderName, string>;
  health: Health;
  affinity: Affinity;
  /** Response cache (Redis when REDIS_URL is set, else in-process); used only for tenants whose policy enables it. */
  responseCache: ResponseCache;
  logger: Logger;
  /** In-process, per tenant: last known budget states (downgrade decisions) and output-token average (cost estimates). */
  tenantState: TenantStateCache;
  redact: (s: string) => string;
  /** Concurrent streams per tenant (in-process, per replica). */
  streams: StreamLimiter;
}

export interface TenantStateCache {
  budgets(tenantId: string): BudgetState[] | undefined;
  setBudgets(tenantId: string, s: BudgetState[]): void;
  outputAverage(tenantId: string): number | undefined;
  observeOutput(tenantId: string, tokens: number): void;
}

export function createTenantStateCache(maxTenants = 10_000): TenantStateCache {
  const budgets = new Map<string, BudgetState[]>();
  const outputs = new Map<string, number>();
  const bound = <V>(m: Map<string, V>) => {
    if (m.size > maxTenants) m.delete(m.keys().next().value as string);
  };
  return {
    budgets: (t) => budgets.get(t),
    setBudgets(t, s) {
      budgets.set(t, s);
      bound(budgets);
    },
    outputAverage: (t) => outputs.get(t),
    observeOutput(t, n) {
      const prev = outputs.get(t);
      // EWMA over recent requests: cheap, in-process, no query on the request path.
      outputs.set(t, prev === undefined ? n : prev * 0.9 + n * 0.1);
      bound(outputs);
    },
  };
}
