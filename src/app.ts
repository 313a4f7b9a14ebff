// createApp(deps): the whole Hono application. It never listens: server.ts serves it, tests call app.request() or serve it.
import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import type { GatewayDeps } from './gateway/deps.js';
import { budgetSpecsFor } from './limits/budgets.js';
import { outgoingOf, type AppEnv } from './http/context.js';
import { createErrorHandler, createRefusalCounter, notFound } from './http/errors.js';
import { createV1Routes } from './http/v1.js';
import { createOpsRoutes } from './http/ops.js';
import { createKeyAuth } from './http/auth.js';
import { createAdminRoutes, createTenantSpendRoute } from './http/admin/routes.js';
import { buildOpenApiDocument } from './http/openapi.js';
import { createMetricsRoute } from './metrics/route.js';
import { createDashboardRoutes } from './dashboard/routes.js';

export interface AppDeps extends GatewayDeps {
  adminToken: string;
  metricsToken?: string;
  /** Readiness of the backing services, for /readyz. */
  readiness: () => Promise<Record<string, boolean>>;
}

export function createApp(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use('*', async (c, next) => {
    const id = `req_${randomUUID().replaceAll('-', '')}`;
    c.set('requestId', id);
    c.set('t0', performance.now());
    await next();
    // Served by @hono/node-server: set on the Node response, which merges it into whatever headers the answer writes.
    // Reading c.res.headers instead would turn every lightweight Response into a full one (~5% of the CPU per request).
    // After the route, and only when its answer lacks it: a header set on the Node response beforehand sends Node's
    // writeHead down its slow path (a setHeader per header of the answer, ~3 KiB per request).
    const outgoing = outgoingOf(c);
    if (!outgoing) c.res.headers.set('x-request-id', id);
    else if (!outgoing.headersSent && c.get('answerHasRequestId') !== true) outgoing.setHeader('x-request-id', id);
  });
  app.onError(createErrorHandler(deps.logger));
  app.notFound(notFound);

  app.route('/', createOpsRoutes(deps));
  app.route('/', createMetricsRoute({ metrics: deps.metrics, token: deps.metricsToken }));
  app.route('/', createDashboardRoutes());
  let openapi: unknown;
  app.get('/openapi.json', (c) => c.json((openapi ??= buildOpenApiDocument())));
  app.route(
    '/admin',
    createAdminRoutes({
      store: deps.store,
      config: deps.config,
      clock: deps.clock,
      adminToken: deps.adminToken,
      onPolicyChange: (id) => void deps.limiter.resetBudgets(id).catch(() => {}),
      limiterStatus: (t) => deps.limiter.budgetState(t.id, budgetSpecsFor(t.policy, deps.clock())),
    }),
  );

  const keyAuth = createKeyAuth({
    store: deps.store,
    ttlMs: deps.config.file.auth_cache_ttl_s * 1000,
    clock: deps.clock,
    maxFailuresPerMinute: deps.config.file.server.auth_failures_per_minute,
    // Keys used in the last 5 minutes never wait for the store: about one batched query per second while any is in use.
    keepWarm: { everyMs: (deps.config.file.auth_cache_ttl_s * 1000) / 4, forMs: 5 * 60_000 },
  });
  // Before auth, so that a 401 or the failed-auth 429 is counted too.
  app.use('/v1/*', createRefusalCounter(deps.metrics));
  app.use('/v1/*', keyAuth);
  app.get('/v1/spend', createTenantSpendRoute({ store: deps.store, clock: deps.clock }));
  app.route('/v1', createV1Routes(deps));
  return app;
}
