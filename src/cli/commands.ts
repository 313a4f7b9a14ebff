// The CLI's subcommands: each takes the store and parsed arguments and writes JSON or a table.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { Config } from '../config/index.js';
import { GatewayError } from '../errors.js';
import { parseWith } from '../http/admin/http-error.js';
import { createdKeyToBody, keyToBody, tenantToBody } from '../http/admin/mappers.js';
import { createKeyBodySchema, createTenantBodySchema } from '../http/admin/schemas.js';
import { parseSpendQuery } from '../http/admin/spend.js';
import {
  formatSpendCsv,
  formatSpendFocus,
  formatSpendJson,
  type SpendAmountsJson,
  type SpendRowJson,
} from '../metering/spend-format.js';
import { policySchema } from '../routing/policy.js';
import type { Store, Tenant } from '../store/interface.js';
import { renderTable } from './table.js';

export interface CommandContext {
  store: Store;
  config: Config;
  args: string[];
  flags: { json: boolean; from?: string; to?: string; tenant?: string; groupBy?: string; format?: string; policy?: string };
  out: (text: string) => void;
  now: () => Date;
}

/** A usage mistake: printed with the help text, exit code 2. */
export class UsageError extends Error {}

function arg(ctx: CommandContext, i: number, name: string): string {
  const v = ctx.args[i];
  if (v === undefined || v === '') throw new UsageError(`missing ${name}`);
  return v;
}

const json = (ctx: CommandContext, v: unknown): void => ctx.out(`${JSON.stringify(v, null, 2)}\n`);

function tenantsTable(ctx: CommandContext, tenants: Tenant[]): void {
  const routes = (t: Tenant): string => Object.keys(t.policy.routes).join(',');
  ctx.out(renderTable(['ID', 'NAME', 'STATUS', 'POLICY', 'ROUTES', 'CREATED'], tenants.map((t) => [
    t.id, t.name, t.disabled ? 'disabled' : 'active', `v${t.policyVersion}`, routes(t), t.createdAt.toISOString(),
  ])));
}

async function requireTenant(store: Store, id: string): Promise<Tenant> {
  const t = await store.getTenant(id);
  if (!t) throw new GatewayError('not_found', `No tenant with id '${id}'.`);
  return t;
}

/** Reads a policy file (YAML or JSON; `-` is stdin) and validates it with the policy schema. */
export function readPolicyFile(path: string): unknown {
  const text = readFileSync(path === '-' ? 0 : path, 'utf8');
  try {
    return parseYaml(text) ?? {}; // YAML is a superset of JSON: one parser for both
  } catch (e) {
    throw new GatewayError('invalid_json', `${path}: not valid YAML or JSON: ${(e as Error).message}`);
  }
}

export async function tenantsCommand(ctx: CommandContext): Promise<void> {
  const { store } = ctx;
  const sub = arg(ctx, 0, 'subcommand (list|create|show|disable|enable|delete)');
  if (sub === 'list') {
    const tenants = await store.listTenants();
    return ctx.flags.json ? json(ctx, tenants.map((t) => tenantToBody(t))) : tenantsTable(ctx, tenants);
  }
  if (sub === 'create') {
    const policy = ctx.flags.policy !== undefined ? readPolicyFile(ctx.flags.policy) : undefined;
    const body = parseWith(createTenantBodySchema, { name: arg(ctx, 1, 'NAME'), policy });
    const t = await store.createTenant({ name: body.name, policy: body.policy ?? ctx.config.file.default_policy });
    return ctx.flags.json ? json(ctx, tenantToBody(t)) : tenantsTable(ctx, [t]);
  }
  const id = arg(ctx, 1, 'TENANT_ID');
  if (sub === 'show') {
    const t = await requireTenant(store, id);
    return ctx.flags.json ? json(ctx, tenantToBody(t)) : tenantsTable(ctx, [t]);
  }
  if (sub === 'disable' || sub === 'enable') {
    const t = await store.updateTenant(id, { disabled: sub === 'disable' });
    if (!t) throw new GatewayError('not_found', `No tenant with id '${id}'.`);
    return ctx.flags.json ? json(ctx, tenantToBody(t)) : tenantsTable(ctx, [t]);
  }
  if (sub === 'delete') {
    if (!(await store.deleteTenant(id))) throw new GatewayError('not_found', `No tenant with id '${id}'.`);
    return ctx.flags.json ? json(ctx, { id, object: 'tenant', deleted: true }) : ctx.out(`deleted ${id}\n`);
  }
  throw new UsageError(`unknown tenants subcommand '${sub}'`);
}

export async function keysCommand(ctx: CommandContext): Promise<void> {
  const { store } = ctx;
  const sub = arg(ctx, 0, 'subcommand (create|list|revoke)');
  if (sub === 'create') {
    const tenantId = arg(ctx, 1, 'TENANT_ID');
    const body = parseWith(createKeyBodySchema, { name: arg(ctx, 2, 'NAME') });
    const created = await store.createKey(tenantId, body.name);
    if (!created) throw new GatewayError('not_found', `No tenant with id '${tenantId}'.`);
    if (ctx.flags.json) return json(ctx, createdKeyToBody(created.key, created.secret));
    return ctx.out(`${created.secret}\n\nkey ${created.key.id} (${created.key.name}) for tenant ${tenantId}.\nThe secret above is shown once: store it now.\n`);
  }
  if (sub === 'list') {
    const tenant = await requireTenant(store, arg(ctx, 1, 'TENANT_ID'));
    const keys = await store.listKeys(tenant.id);
    if (ctx.flags.json) return json(ctx, keys.map(keyToBody));
    return ctx.out(renderTable(['ID', 'NAME', 'PREFIX', 'CREATED', 'REVOKED'], keys.map((k) => [
      k.id, k.name, `${k.prefix}…`, k.createdAt.toISOString(), k.revokedAt ? k.revokedAt.toISOString() : '-',
    ])));
  }
  if (sub === 'revoke') {
    const id = arg(ctx, 1, 'KEY_ID');
    const key = await store.revokeKey(id);
    if (!key) throw new GatewayError('not_found', `No key with id '${id}'.`);
    return ctx.flags.json ? json(ctx, keyToBody(key)) : ctx.out(`revoked ${id} (running gateways stop accepting it within ${ctx.config.file.auth_cache_ttl_s} s)\n`);
  }
  throw new UsageError(`unknown keys subcommand '${sub}'`);
}

export async function policyCommand(ctx: CommandContext): Promise<void> {
  const sub = arg(ctx, 0, 'subcommand (get|set)');
  const tenantId = arg(ctx, 1, 'TENANT_ID');
  if (sub === 'get') return json(ctx, (await requireTenant(ctx.store, tenantId)).policy);
  if (sub === 'set') {
    const policy = parseWith(policySchema, readPolicyFile(arg(ctx, 2, 'FILE (.yaml or .json, - for stdin)')));
    const t = await ctx.store.putPolicy(tenantId, policy);
    if (!t) throw new GatewayError('not_found', `No tenant with id '${tenantId}'.`);
    return ctx.flags.json ? json(ctx, tenantToBody(t)) : ctx.out(`policy of ${tenantId} is now version ${t.policyVersion}\n`);
  }
  throw new UsageError(`unknown policy subcommand '${sub}'`);
}

export async function spendCommand(ctx: CommandContext): Promise<void> {
  const f = ctx.flags;
  const format = f.json ? 'json' : (f.format ?? 'table');
  const params: Record<string, string> = { format: format === 'table' ? 'json' : format };
  if (f.from !== undefined) params.from = f.from;
  if (f.to !== undefined) params.to = f.to;
  if (f.tenant !== undefined) params.tenant = f.tenant;
  if (f.groupBy !== undefined) params.group_by = f.groupBy;
  const { query } = parseSpendQuery(params, ctx.now(), null);
  const rows = await ctx.store.spend(query);
  if (format === 'json') return json(ctx, formatSpendJson(rows, query));
  if (format === 'csv') return ctx.out(formatSpendCsv(rows, query));
  if (format === 'focus') {
    const names = new Map((await ctx.store.listTenants()).map((t) => [t.id, t.name] as const));
    return ctx.out(formatSpendFocus(rows, query, names));
  }
  const report = formatSpendJson(rows, query);
  const dims = report.group_by;
  const amounts = (r: SpendAmountsJson): string[] => [
    String(r.requests), String(r.input_tokens), String(r.output_tokens), r.cost_usd, r.saved_usd,
  ];
  const lines = report.rows.map((r: SpendRowJson) => [...dims.map((d) => r[d] ?? '-'), ...amounts(r)]);
  const total = [...dims.map((_d, i) => (i === 0 ? 'TOTAL' : '')), ...amounts(report.totals)];
  ctx.out(renderTable(
    [...dims.map((d) => d.toUpperCase()), 'REQUESTS', 'INPUT_TOKENS', 'OUTPUT_TOKENS', 'COST_USD', 'SAVED_USD'],
    [...lines, total],
  ));
  ctx.out(`${report.from} → ${report.to}${report.tenant ? `, tenant ${report.tenant}` : ''}\n`);
}
