// GET /metrics: the Prometheus exposition of the gateway registry, behind an optional bearer token.
import { createHash, timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import type { Metrics } from './metrics.js';

export interface MetricsRouteOptions {
  metrics: Pick<Metrics, 'metricsText' | 'contentType'>;
  /** When set, scrapes must send `Authorization: Bearer <token>`. */
  token?: string;
}

/** Compares digests so that neither the content nor the length of the token leaks through timing. */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function createMetricsRoute(options: MetricsRouteOptions): Hono {
  const app = new Hono();
  const expected = options.token;
  app.get('/metrics', async (c) => {
    if (expected !== undefined && expected !== '') {
      const header = c.req.header('authorization') ?? '';
      const m = /^Bearer\s+(.+)$/i.exec(header);
      if (!m || !sameSecret(m[1].trim(), expected)) {
        return c.json(
          { error: { message: 'A valid metrics bearer token is required.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } },
          401,
          { 'www-authenticate': 'Bearer realm="metrics"' },
        );
      }
    }
    const body = await options.metrics.metricsText();
    return c.body(body, 200, { 'content-type': options.metrics.contentType, 'cache-control': 'no-store' });
  });
  return app;
}
