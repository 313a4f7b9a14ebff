// The admin API under /admin: tenants, keys, policies and spend, behind the admin bearer token.
import { Hono, type Context } from 'hono';
import type { Config } from '../../config/index.js';
import { GatewayError } from '../../errors.js';
import type { BudgetState } from '../../limits/interface.js';
import { policySchema } from '../../routing/policy.js';
import type { Store, Tenant } from '../../store/interface.js';
import { invalidateKeyCache } from '../auth.js';
import { createAdminAuth } from './admin-auth.js';
import { parseWith, readJson, toErrorResponse } from './http-error.js';
import { createdKeyToBody, keyToBody, tenantToBody } from './mappers.js';
import { createTenantBodySchema, createKeyBodySchema, patchTenantBodySchema } from './schemas.js';
import { handleSpend } from './spend.js';

export { createTenantSpendRoute, parseSpendQuery } from './spend.js';
export { resolveAdminToken } from './admin-auth.js';

export interface AdminDeps {
  store: Store;
  config: Config;
  clock: () => Date;
  /** The admin token; defaults to config.env.TOLLGATE_ADMIN_TOKEN (server.ts passes the generated one when unset). */
  adminToken?: string;
  /** Called after a tenant's policy, name or status changed (drop router/limiter caches). */
  onPolicyChange?: (tenantId: string) => void;
  /** Budget state of a tenant, shown on GET /admin/tenants/:id (the limiter's view, reservations included). */
  limiterStatus?: (tenant: Tenant) => Promise<BudgetState[]>;
}

function notFound(what: string, id: string): GatewayError {
  return new GatewayError('not_found', `No ${what} with id '${id}'.`, { param: 'id' });
}

async function requireTenant(store: Store, id: string): Promise<Tenant> {
  const t = await store.getTenant(id);
  if (!t) throw notFound('tenant', id);
  return t;
}

/**
 * Mount with `app.route('/admin', createAdminRoutes(deps))`.
 * @example curl -H "Authorization: Bearer $TOLLGATE_ADMIN_TOKEN" localhost:8787/admin/tenants
 */
export function createAdminRoutes(deps: AdminDeps): Hono {
  const { store, config } = deps;
  const app = new Hono();
  const changed = (tenantId: string): void => {
    // The auth cache holds the tenant (status, policy) next to the key: drop it so this instance sees the change now.
    invalidateKeyCache({ tenantId });
    deps.onPolicyChange?.(tenantId);
  };

  app.onError((e, c) => toErrorResponse(c, e));
  app.use('*', createAdminAuth(deps.adminToken ?? config.env.TOLLGATE_ADMIN_TOKEN));

  app.post('/tenants', async (c) => {
    const body = parseWith(createTenantBodySchema, await readJson(c));
    const tenant = await store.createTenant({ name: body.name, policy: body.policy ?? config.file.default_policy });
    return c.json(tenantToBody(tenant), 201);
  });

  app.get('/tenants', async (c) => {
    const tenants = await store.listTenants();
    return c.json({ object: 'list' as const, data: tenants.map((t) => tenantToBody(t)) });
  });

  app.get('/tenants/:id', async (c) => {
    const tenant = await requireTenant(store, c.req.param('id'));
    const budgets = deps.limiterStatus ? await deps.limiterStatus(tenant).catch(() => undefined) : undefined;
    return c.json(tenantToBody(tenant, budgets));
  });

  app.patch('/tenants/:id', async (c) => {
    const id = c.req.param('id');
    const body = parseWith(patchTenantBodySchema, await readJson(c));
    const tenant = await store.updateTenant(id, body);
    if (!tenant) throw notFound('tenant', id);
    changed(id);
    return c.json(tenantToBody(tenant));
  });

  app.delete('/tenants/:id', async (c) => {
    const id = c.req.param('id');
    if (!(await store.deleteTenant(id))) throw notFound('tenant', id);
    changed(id);
    return c.json({ id, object: 'tenant', deleted: true as const });
  });

  app.get('/tenants/:id/policy', async (c) => {
    const tenant = await requireTenant(store, c.req.param('id'));
    return c.json(tenant.policy, 200, { etag: `"v${tenant.policyVersion}"` });
  });

  app.put('/tenants/:id/policy', async (c) => {
    const id = c.req.param('id');
    const policy = parseWith(policySchema, await readJson(c));
    const tenant = await store.putPolicy(id, policy);
    if (!tenant) throw notFound('tenant', id);
    changed(id);
    return c.json(tenant.policy, 200, { etag: `"v${tenant.policyVersion}"` });
  });

  app.post('/tenants/:id/keys', async (c) => {
    const id = c.req.param('id');
    const body = parseWith(createKeyBodySchema, await readJson(c));
    const created = await store.createKey(id, body.name);
    if (!created) throw notFound('tenant', id);
    // The secret leaves the server here and nowhere else: never cache this response.
    return c.json(createdKeyToBody(created.key, created.secret), 201, { 'cache-control': 'no-store' });
  });

  app.get('/tenants/:id/keys', async (c) => {
    const tenant = await requireTenant(store, c.req.param('id'));
    const keys = await store.listKeys(tenant.id);
    return c.json({ object: 'list' as const, data: keys.map(keyToBody) });
  });

  app.delete('/keys/:id', async (c) => {
    const id = c.req.param('id');
    const key = await store.revokeKey(id);
    if (!key) throw notFound('key', id);
    invalidateKeyCache({ keyId: id });
    return c.json(keyToBody(key));
  });

  app.get('/spend', (c: Context) => handleSpend(c, { store, clock: deps.clock, forcedTenantId: null }));

  return app;
}
