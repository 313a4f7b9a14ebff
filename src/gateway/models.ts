// GET /v1/models: the catalog models this tenant may use right now, plus its route aliases.
import type { AuthInfo } from '../http/context.js';
import { policyReasons } from '../routing/constraints.js';
import { availability } from './admission.js';
import type { GatewayDeps } from './deps.js';

const CREATED = Math.floor(Date.UTC(2026, 0, 1) / 1000);

interface ModelEntry {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  shutdown_date?: string;
  tollgate?: { kind: string; route?: { strategy: string } };
}

export function listModels(deps: GatewayDeps, auth: AuthInfo, now: Date): { object: 'list'; data: ModelEntry[] } {
  const policy = auth.tenant.policy;
  const usable = availability(deps);
  const data: ModelEntry[] = [];
  for (const [alias, route] of Object.entries(policy.routes)) {
    data.push({ id: alias, object: 'model', created: CREATED, owned_by: 'tollgate', tollgate: { kind: 'route', route: { strategy: route.strategy } } });
  }
  for (const m of deps.config.catalog.models) {
    if (deps.config.catalog.isRetired(m, now) || policyReasons(deps.config.catalog, policy, m, null).length > 0 || usable(m) !== null) continue;
    data.push({
      id: m.id,
      object: 'model',
      created: CREATED,
      owned_by: m.provider,
      ...(m.shutdown ? { shutdown_date: m.shutdown.toISOString().slice(0, 10) } : {}),
      tollgate: { kind: m.kind },
    });
  }
  return { object: 'list', data };
}
