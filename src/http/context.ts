// Hono context variables shared by middleware and routes, and the Node response behind a request.
import type { ServerResponse } from 'node:http';
import type { Context } from 'hono';
import type { ApiKeyRecord, Tenant } from '../store/interface.js';

export interface AuthInfo {
  tenant: Tenant;
  key: ApiKeyRecord;
}

export interface AppEnv {
  Variables: {
    requestId: string;
    /** performance.now() when the request entered the gateway. */
    t0: number;
    auth: AuthInfo;
    /** The error code the request was answered with, set by errorResponse() (the refusal counter reads it). */
    errorCode?: string;
    /** The route's answer carries x-request-id itself (a served answer's headers): the app adds none. */
    answerHasRequestId?: boolean;
  };
}

/** A route's answer built with servedHeaders(), which carry x-request-id: the app's middleware adds none (src/app.ts). */
export function servedAnswer(c: Context<AppEnv>, res: Response): Response {
  c.set('answerHasRequestId', true);
  return res;
}

/** The Node response of a request served by @hono/node-server (its `env.outgoing`); undefined elsewhere (app.request). */
export function outgoingOf(c: Context): ServerResponse | undefined {
  return (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
}
