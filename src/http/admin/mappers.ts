// Maps Store records to the admin API's wire shapes (snake_case, ISO dates, money as decimal strings).
import type { BudgetState } from '../../limits/interface.js';
import { picoToUsd } from '../../metering/money.js';
import type { ApiKeyRecord, Tenant } from '../../store/interface.js';
import type { ApiKeyBody, BudgetStatus, CreatedKeyBody, TenantBody } from './schemas.js';

export function tenantToBody(t: Tenant, budgets?: readonly BudgetState[]): TenantBody {
  const body: TenantBody = {
    object: 'tenant',
    id: t.id,
    name: t.name,
    disabled: t.disabled,
    policy: t.policy,
    policy_version: t.policyVersion,
    created_at: t.createdAt.toISOString(),
  };
  if (budgets) body.budgets = budgets.map(budgetToBody);
  return body;
}

export function budgetToBody(b: BudgetState): BudgetStatus {
  return {
    period: b.period,
    mode: b.mode,
    limit_usd: picoToUsd(b.limitPico),
    spent_usd: picoToUsd(b.spentPico),
    resets_at: b.resetsAt.toISOString(),
  };
}

export function keyToBody(k: ApiKeyRecord): ApiKeyBody {
  return {
    object: 'api_key',
    id: k.id,
    tenant_id: k.tenantId,
    name: k.name,
    prefix: k.prefix,
    created_at: k.createdAt.toISOString(),
    revoked_at: k.revokedAt ? k.revokedAt.toISOString() : null,
    last_used_at: k.lastUsedAt ? k.lastUsedAt.toISOString() : null,
  };
}

export function createdKeyToBody(k: ApiKeyRecord, secret: string): CreatedKeyBody {
  return {
    object: 'api_key',
    id: k.id,
    tenant_id: k.tenantId,
    name: k.name,
    key: secret,
    prefix: k.prefix,
    created_at: k.createdAt.toISOString(),
  };
}
