// Operations endpoints: liveness and readiness.
import { Hono } from 'hono';
import type { AppEnv } from './context.js';

export function createOpsRoutes(deps: { readiness: () => Promise<Record<string, boolean>> }): Hono<AppEnv> {
  const ops = new Hono<AppEnv>();
  ops.get('/healthz', (c) => c.json({ status: 'ok' }));
  ops.get('/readyz', async (c) => {
    const checks = await deps.readiness();
    const ok = Object.values(checks).every(Boolean);
    return c.json({ status: ok ? 'ready' : 'not_ready', checks }, ok ? 200 : 503);
  });
  return ops;
}
