// Hono context variables shared by middleware and routes.
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
  };
}
