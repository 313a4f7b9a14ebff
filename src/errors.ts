// The one error class of the gateway: a closed code enum, mapped to HTTP status and OpenAI error type in one place.

export const errorCodes = {
  invalid_json: { status: 400, type: 'invalid_request_error' },
  invalid_request: { status: 400, type: 'invalid_request_error' },
  unsupported_parameter: { status: 400, type: 'invalid_request_error' },
  unsupported_capability: { status: 400, type: 'invalid_request_error' },
  context_length_exceeded: { status: 400, type: 'invalid_request_error' },
  invalid_api_key: { status: 401, type: 'invalid_request_error' },
  tenant_disabled: { status: 403, type: 'permission_error' },
  model_not_found: { status: 404, type: 'invalid_request_error' },
  not_found: { status: 404, type: 'invalid_request_error' },
  method_not_allowed: { status: 405, type: 'invalid_request_error' },
  model_retired: { status: 410, type: 'invalid_request_error' },
  request_too_large: { status: 413, type: 'invalid_request_error' },
  no_route: { status: 422, type: 'invalid_request_error' },
  rate_limit_exceeded: { status: 429, type: 'requests' },
  insufficient_quota: { status: 429, type: 'insufficient_quota' },
  too_many_streams: { status: 429, type: 'requests' },
  too_many_auth_failures: { status: 429, type: 'requests' },
  upstream_error: { status: 502, type: 'api_error' },
  upstream_auth_failed: { status: 502, type: 'api_error' },
  provider_not_configured: { status: 503, type: 'api_error' },
  service_unavailable: { status: 503, type: 'api_error' },
  upstream_timeout: { status: 504, type: 'api_error' },
  internal_error: { status: 500, type: 'api_error' },
} as const satisfies Record<string, { status: number; type: string }>;

export type ErrorCode = keyof typeof errorCodes;

export interface GatewayErrorOptions {
  param?: string | null;
  /** Override the status of the code (e.g. an upstream 500/503 passed on as is). */
  status?: number;
  /** Override the OpenAI error type (e.g. rate limit `tokens` vs `requests`). */
  type?: string;
  /** Extra response headers (retry-after, x-ratelimit-*). */
  headers?: Record<string, string>;
  /** Wire code to show to the client when it differs from the enum (e.g. an upstream's own code). */
  wireCode?: string | null;
  cause?: unknown;
}

export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly headers: Record<string, string>;
  readonly wireCode: string | null;

  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = 'GatewayError';
    this.code = code;
    this.status = options.status ?? errorCodes[code].status;
    this.type = options.type ?? errorCodes[code].type;
    this.param = options.param ?? null;
    this.headers = options.headers ?? {};
    this.wireCode = options.wireCode === undefined ? code : options.wireCode;
  }

  toBody(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.wireCode } };
  }
}

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function isGatewayError(e: unknown): e is GatewayError {
  return e instanceof GatewayError;
}
