// Maps anything thrown in a route to the OpenAI error shape; never a stack trace or a secret in a response.
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { GatewayError } from '../errors.js';
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
  const headers: Record<string, string> = { 'content-type': 'application/json', ...err.headers };
  const id = c.get('requestId') as string | undefined;
  if (id) headers['x-request-id'] = id;
  return new Response(JSON.stringify(err.toBody()), { status: err.status, headers });
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
