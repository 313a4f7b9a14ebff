// Maps anything thrown in a route to the OpenAI error shape; never a stack trace or a secret in a response. Counts the
// /v1 requests answered with an error that no ledger row accounts for (tollgate_refused_requests_total).
import type { Context, MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { GatewayError } from '../errors.js';
import type { Metrics } from '../metrics/metrics.js';
import type { AppEnv } from './context.js';

export interface ErrorLogger {
  error(obj: object, msg?: string): void;
}

export function toGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  if (err instanceof HTTPException) {
    const status = err.status;
    if (status === 413) return new GatewayError('request_too_large', 'Request body too large.');
    if (status === 404) return new GatewayError('not_found', err.message || 'Not found.');
    if (status === 401) return new GatewayError('invalid_api_key', err.message || 'Unauthorized.');
    if (status < 500) return new GatewayError('invalid_request', err.message || 'Bad request.', { status });
  }
  return new GatewayError('internal_error', 'The gateway had an internal error while processing your request.');
}

export function errorResponse(c: Context, err: GatewayError): Response {
  // The code the request was answered with (the error handler, key auth, not found), for the refusal counter: a
  // variable of the request's own context, shared by the sub-apps it passes through. Not a WeakMap keyed by the
  // context: V8's young-generation collections keep WeakMap entries, so every refused request's context and error
  // lived until the next full collection (6.0 against 0.7 KB promoted per request, 404s at one connection).
  (c as Context<AppEnv>).set('errorCode', err.code);
  // x-request-id is added to every answer by the app's first middleware (src/app.ts).
  return new Response(JSON.stringify(err.toBody()), { status: err.status, headers: { 'content-type': 'application/json', ...err.headers } });
}

export function createErrorHandler(logger: ErrorLogger) {
  return function onError(err: unknown, c: Context<AppEnv>): Response {
    const g = toGatewayError(err);
    if (g.status >= 500 && !(err instanceof GatewayError)) {
      // Only the message and class: upstream errors may quote request data, and stacks help no client.
      logger.error({ requestId: c.get('requestId'), err: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }, 'unhandled error');
    }
    return errorResponse(c, g);
  };
}

export function notFound(c: Context<AppEnv>): Response {
  return errorResponse(c, new GatewayError('not_found', `Unknown request URL: ${c.req.method} ${c.req.path}.`));
}

/** The tenant of an authenticated request (set by key auth); null on a 401 and on the failed-auth 429. */
const tenantOf = (c: Context<AppEnv>): string | null => (c.get('auth') as AppEnv['Variables']['auth'] | undefined)?.tenant.name ?? null;

/**
 * Middleware for /v1/*, mounted before key auth: every request answered with an error and no ledger row (refused
 * before admission: 400, 401, 404, 413, 429, a 503 from the router...) is counted once in
 * tollgate_refused_requests_total. Errors after admission were metered (a ledger row, tollgate_requests_total) and
 * are not counted again: the metrics see their ledger event under the same request id.
 */
export function createRefusalCounter(metrics: Pick<Metrics, 'requestStarted' | 'requestAnswered'>): MiddlewareHandler<AppEnv> {
  return async function countRefusals(c, next) {
    const id = c.get('requestId');
    metrics.requestStarted(id);
    try {
      await next();
    } catch (e) {
      // Not rendered by the error handler (a throw that is not an Error): the app answers it with a 500.
      metrics.requestAnswered(id, { tenant: tenantOf(c), path: c.req.path, status: 500, code: 'internal_error' });
      throw e;
    }
    const status = c.res.status;
    // Every error answer of the app goes through errorResponse(), which notes its code on the context; anything else is `other`.
    metrics.requestAnswered(id, { tenant: tenantOf(c), path: c.req.path, status, code: status >= 400 ? (c.get('errorCode') ?? 'other') : '' });
  };
}
