// Gemini error bodies ({"error":{code,message,status,details}}) → UpstreamError with OpenAI-style code and type.
import { redactSecret, retryAfterMsFromHeaders } from './http.js';
import { UpstreamError } from './types.js';
import { tryParseJson } from './upstream-errors.js';

interface GeminiErrorFields {
  code: number | null;
  message: string | null;
  status: string | null;
  reasons: string[];
  retryDelayMs: number | null;
}

/** "30s", "1.5s" (protobuf Duration JSON) → milliseconds. */
export function parseRetryDelay(v: unknown): number | null {
  if (typeof v !== 'string') return null;
  const m = /^(\d+(?:\.\d+)?)s$/.exec(v.trim());
  return m ? Math.round(Number(m[1]) * 1000) : null;
}

export function readGeminiError(body: unknown): GeminiErrorFields {
  const out: GeminiErrorFields = { code: null, message: null, status: null, reasons: [], retryDelayMs: null };
  const root = Array.isArray(body) ? body[0] : body;
  if (!root || typeof root !== 'object') return out;
  const e = (root as { error?: unknown }).error;
  if (!e || typeof e !== 'object') return out;
  const eo = e as Record<string, unknown>;
  if (typeof eo.code === 'number') out.code = eo.code;
  if (typeof eo.message === 'string') out.message = eo.message;
  if (typeof eo.status === 'string') out.status = eo.status;
  for (const d of Array.isArray(eo.details) ? eo.details : []) {
    if (!d || typeof d !== 'object') continue;
    const dd = d as Record<string, unknown>;
    if (typeof dd.reason === 'string') out.reasons.push(dd.reason);
    const delay = parseRetryDelay(dd.retryDelay);
    if (delay !== null) out.retryDelayMs = delay;
  }
  return out;
}

const byStatus: Record<string, { code: string; type: string }> = {
  INVALID_ARGUMENT: { code: 'invalid_request', type: 'invalid_request_error' },
  FAILED_PRECONDITION: { code: 'invalid_request', type: 'invalid_request_error' },
  OUT_OF_RANGE: { code: 'invalid_request', type: 'invalid_request_error' },
  UNAUTHENTICATED: { code: 'invalid_api_key', type: 'authentication_error' },
  PERMISSION_DENIED: { code: 'permission_denied', type: 'permission_error' },
  NOT_FOUND: { code: 'model_not_found', type: 'invalid_request_error' },
  RESOURCE_EXHAUSTED: { code: 'rate_limit_exceeded', type: 'requests' },
  CANCELLED: { code: 'cancelled', type: 'api_error' },
  INTERNAL: { code: 'server_error', type: 'api_error' },
  UNKNOWN: { code: 'server_error', type: 'api_error' },
  UNAVAILABLE: { code: 'service_unavailable', type: 'api_error' },
  DEADLINE_EXCEEDED: { code: 'timeout', type: 'api_error' },
};

function codeFor(f: GeminiErrorFields, httpStatus: number): { code: string; type: string } {
  if (f.status && byStatus[f.status]) return byStatus[f.status];
  if (httpStatus === 404) return byStatus.NOT_FOUND;
  if (httpStatus === 429) return byStatus.RESOURCE_EXHAUSTED;
  if (httpStatus === 503) return byStatus.UNAVAILABLE;
  if (httpStatus === 504) return byStatus.DEADLINE_EXCEEDED;
  if (httpStatus >= 500) return byStatus.INTERNAL;
  return byStatus.INVALID_ARGUMENT;
}

function isAuthFailure(f: GeminiErrorFields, httpStatus: number): boolean {
  return httpStatus === 401 || httpStatus === 403 || f.reasons.includes('API_KEY_INVALID') || f.status === 'UNAUTHENTICATED';
}

export function geminiErrorFromHttp(status: number, headers: Record<string, string>, bodyText: string, apiKey: string): UpstreamError {
  const f = readGeminiError(tryParseJson(bodyText));
  const auth = isAuthFailure(f, status);
  const mapped = auth ? { code: 'invalid_api_key', type: 'authentication_error' } : codeFor(f, status);
  const message = redactSecret(f.message ?? (bodyText.trim().slice(0, 300) || `HTTP ${status}`), apiKey);
  return new UpstreamError({
    provider: 'gemini',
    kind: auth ? 'auth' : 'http',
    status,
    code: mapped.code,
    type: mapped.type,
    retryAfterMs: f.retryDelayMs ?? retryAfterMsFromHeaders(headers),
    message: auth
      ? `gemini rejected the gateway's API key (HTTP ${status}${f.status ? ` ${f.status}` : ''}): ${message}`
      : `gemini HTTP ${status}${f.status ? ` ${f.status}` : ''}: ${message}`,
  });
}

/** An error chunk in the middle of a stream. */
export function geminiErrorFromEvent(event: unknown, apiKey: string): UpstreamError {
  const f = readGeminiError(event);
  const mapped = codeFor(f, f.code ?? 500);
  return new UpstreamError({
    provider: 'gemini',
    kind: 'stream',
    code: mapped.code,
    type: mapped.type,
    retryAfterMs: f.retryDelayMs,
    message: `gemini stream error${f.status ? ` ${f.status}` : ''}: ${redactSecret(f.message ?? 'unknown error', apiKey)}`,
  });
}
