// GET /admin/spend and the tenant's own GET /v1/spend: query parsing, tenant scoping, and the three output formats.
import type { Context, Handler } from 'hono';
import { GatewayError } from '../../errors.js';
import { formatSpendCsv, formatSpendFocus, formatSpendJson } from '../../metering/spend-format.js';
import { spendGroupKeys, type SpendGroupKey, type SpendQuery, type Store } from '../../store/interface.js';
import type { AuthVariables } from '../auth.js';
import { toErrorResponse, validationError } from './http-error.js';
import { spendQuerySchema, type SpendFormat } from './schemas.js';

const DAY_MS = 86_400_000;
const DEFAULT_RANGE_MS = 30 * DAY_MS;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

function parseInstant(value: string, param: 'from' | 'to'): Date {
  // A date-only `to` means "through that day", so `from=2026-11-01&to=2026-11-30` covers all of November's last day.
  const d = DATE_ONLY.test(value) ? new Date(`${value}T00:00:00Z`) : new Date(value);
  if (Number.isNaN(d.getTime())) throw new GatewayError('invalid_request', `Invalid date in '${param}': ${value}`, { param });
  return DATE_ONLY.test(value) && param === 'to' ? new Date(d.getTime() + DAY_MS) : d;
}

function parseGroupBy(value: string | undefined): SpendGroupKey[] {
  if (value === undefined || value.trim() === '') return ['day'];
  const out: SpendGroupKey[] = [];
  for (const raw of value.split(',')) {
    const k = raw.trim();
    if (k === '') continue;
    if (!(spendGroupKeys as readonly string[]).includes(k)) {
      throw new GatewayError('invalid_request', `Unknown group_by '${k}'; use any of ${spendGroupKeys.join(', ')}.`, {
        param: 'group_by',
      });
    }
    if (!out.includes(k as SpendGroupKey)) out.push(k as SpendGroupKey);
  }
  return out.length > 0 ? out : ['day'];
}

/** Validates the query string; `forcedTenantId` (a tenant's own report) overrides any `tenant` parameter. */
export function parseSpendQuery(
  params: Record<string, string>,
  now: Date,
  forcedTenantId: string | null,
): { query: SpendQuery; format: SpendFormat } {
  const r = spendQuerySchema.safeParse(params);
  if (!r.success) throw validationError(r.error);
  const p = r.data;
  // Default: whole UTC days, today included (a request made this very millisecond counts, and day groups are complete).
  const to = p.to !== undefined ? parseInstant(p.to, 'to') : new Date(Math.floor(now.getTime() / DAY_MS) * DAY_MS + DAY_MS);
  const from = p.from !== undefined ? parseInstant(p.from, 'from') : new Date(to.getTime() - DEFAULT_RANGE_MS);
  if (from.getTime() >= to.getTime()) {
    throw new GatewayError('invalid_request', "'from' must be before 'to'.", { param: 'from' });
  }
  if (forcedTenantId !== null && p.tenant !== undefined && p.tenant !== forcedTenantId) {
    // Same answer whether or not that tenant exists: a key learns nothing about other tenants.
    throw new GatewayError('not_found', `No tenant with id '${p.tenant}'.`, { param: 'tenant' });
  }
  const tenantId = forcedTenantId ?? (p.tenant || undefined);
  const query: SpendQuery = { from, to, groupBy: parseGroupBy(p.group_by) };
  if (tenantId !== undefined) query.tenantId = tenantId;
  return { query, format: p.format };
}

export interface SpendHandlerDeps {
  store: Store;
  clock: () => Date;
  /** Set for a tenant's own report: the query is pinned to this tenant. */
  forcedTenantId: string | null;
}

export async function handleSpend(c: Context, deps: SpendHandlerDeps): Promise<Response> {
  const { query, format } = parseSpendQuery(c.req.query(), deps.clock(), deps.forcedTenantId);
  const rows = await deps.store.spend(query);
  if (format === 'json') return c.json(formatSpendJson(rows, query));
  const day = (d: Date): string => d.toISOString().slice(0, 10);
  const filename = `tollgate-spend-${format}-${day(query.from)}-${day(query.to)}.csv`;
  const headers = { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="${filename}"` };
  if (format === 'csv') return c.body(formatSpendCsv(rows, query), 200, headers);
  const tenants = await deps.store.listTenants();
  const names = new Map(tenants.map((t) => [t.id, t.name] as const));
  return c.body(formatSpendFocus(rows, query, names), 200, headers);
}

/**
 * GET /v1/spend: the authenticated tenant's own spend (after createKeyAuth). Mount: `app.get('/v1/spend', handler)`.
 * A `tenant` parameter naming another tenant is a 404, never that tenant's data.
 */
export function createTenantSpendRoute(deps: { store: Store; clock: () => Date }): Handler<{ Variables: AuthVariables }> {
  return async function tenantSpend(c) {
    try {
      return await handleSpend(c, { store: deps.store, clock: deps.clock, forcedTenantId: c.get('auth').tenant.id });
    } catch (e) {
      return toErrorResponse(c, e);
    }
  };
}
