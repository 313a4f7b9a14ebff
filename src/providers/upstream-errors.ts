// Turns an upstream's non-2xx answer or in-stream error event into an UpstreamError (OpenAI-style code/type, no secrets).
import { redactSecret, retryAfterMsFromHeaders } from './http.js';
import { UpstreamError, type ProviderName } from './types.js';

export interface ErrorFields {
  message: string | null;
  type: string | null;
  code: string | null;
  param: string | null;
}

function str(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return null;
}

/** Reads `{"error":{message,type,param,code}}`, `{"error":"text"}`, `{"message":…}` or `[{"error":…}]`. */
export function readErrorFields(body: unknown): ErrorFields {
  const empty: ErrorFields = { message: null, type: null, code: null, param: null };
  if (Array.isArray(body)) return body.length > 0 ? readErrorFields(body[0]) : empty;
  if (!body || typeof body !== 'object') return empty;
  const o = body as Record<string, unknown>;
  const e = o.error;
  if (typeof e === 'string') return { ...empty, message: e };
  if (e && typeof e === 'object') {
    const eo = e as Record<string, unknown>;
    return { message: str(eo.message), type: str(eo.type), code: str(eo.code), param: str(eo.param) };
  }
  return { ...empty, message: str(o.message) };
}

export function tryParseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Default OpenAI-style code/type for a status when the upstream body says nothing useful. */
export function defaultCodeForStatus(status: number): { code: string; type: string } {
  if (status === 401 || status === 403) return { code: 'invalid_api_key', type: 'authentication_error' };
  if (status === 402) return { code: 'insufficient_quota', type: 'insufficient_quota' };
  if (status === 404) return { code: 'model_not_found', type: 'invalid_request_error' };
  if (status === 408) return { code: 'timeout', type: 'api_error' };
  if (status === 429) return { code: 'rate_limit_exceeded', type: 'requests' };
  if (status === 503) return { code: 'service_unavailable', type: 'api_error' };
  if (status >= 500) return { code: 'server_error', type: 'api_error' };
  return { code: 'invalid_request_error', type: 'invalid_request_error' };
}

export interface HttpErrorInput {
  provider: ProviderName;
  status: number;
  headers: Record<string, string>;
  bodyText: string;
  apiKey: string;
  /** Per-provider overrides of code/type by status (e.g. DeepSeek 402). */
  statusCodes?: Partial<Record<number, { code: string; type: string }>>;
}

/** An OpenAI-compatible upstream's error answer. 401/403 mean our own provider key was rejected: kind 'auth'. */
export function upstreamErrorFromHttp(input: HttpErrorInput): UpstreamError {
  const { provider, status, headers } = input;
  const fields = readErrorFields(tryParseJson(input.bodyText));
  const fallback = input.statusCodes?.[status] ?? defaultCodeForStatus(status);
  const override = input.statusCodes?.[status];
  const auth = status === 401 || status === 403;
  const rawMessage = fields.message ?? (input.bodyText.trim().slice(0, 300) || `HTTP ${status}`);
  const message = redactSecret(rawMessage, input.apiKey);
  return new UpstreamError({
    provider,
    kind: auth ? 'auth' : 'http',
    status,
    code: override?.code ?? fields.code ?? fallback.code,
    type: override?.type ?? fields.type ?? fallback.type,
    param: fields.param,
    retryAfterMs: retryAfterMsFromHeaders(headers),
    message: auth ? `${provider} rejected the gateway's API key (HTTP ${status}): ${message}` : `${provider} HTTP ${status}: ${message}`,
  });
}

/** A `{"error":…}` event in the middle of a stream. */
export function upstreamErrorFromStreamEvent(provider: ProviderName, event: unknown, apiKey: string): UpstreamError {
  const fields = readErrorFields(event);
  return new UpstreamError({
    provider,
    kind: 'stream',
    code: fields.code ?? 'server_error',
    type: fields.type ?? 'api_error',
    param: fields.param,
    message: `${provider} stream error: ${redactSecret(fields.message ?? 'unknown error', apiKey)}`,
  });
}

export function invalidResponse(provider: ProviderName, what: string, cause?: unknown): UpstreamError {
  return new UpstreamError({ provider, kind: 'invalid_response', message: `${provider}: invalid upstream answer: ${what}`, cause });
}
