// The Responses API routes under /v1: thin (read and validate the body → the gateway domain → respond).
import { Hono } from 'hono';
import { deleteStoredResponse, getStoredResponse, handleResponses } from '../gateway/responses.js';
import type { GatewayDeps } from '../gateway/deps.js';
import { parseResponsesRequest } from '../responses/index.js';
import { GatewayError } from '../errors.js';
import { parseJson, readBody } from './body.js';
import { outgoingOf, servedAnswer, type AppEnv } from './context.js';
import { clientSignalOf } from './client-signal.js';

export function createResponsesRoutes(deps: GatewayDeps): Hono<AppEnv> {
  const r = new Hono<AppEnv>();
  const limit = deps.config.file.server.body_limit_bytes;

  r.post('/responses', async (c) => {
    const body = parseJson(await readBody(c, limit));
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new GatewayError('invalid_request', 'The request body must be a JSON object.');
    }
    return servedAnswer(c, await handleResponses(deps, {
      req: parseResponsesRequest(body),
      auth: c.get('auth'),
      requestId: c.get('requestId'),
      t0: c.get('t0'),
      clientSignal: clientSignalOf(c),
      out: outgoingOf(c),
    }));
  });

  r.get('/responses/:id', async (c) => c.json(await getStoredResponse(deps, c.get('auth'), c.req.param('id'))));

  r.delete('/responses/:id', async (c) => c.json(await deleteStoredResponse(deps, c.get('auth'), c.req.param('id'))));

  return r;
}
