// What the client sees when the upstream fails: OpenAI's status and shape, never the gateway's provider key.
import { GatewayError } from '../errors.js';
import type { ProviderName, UpstreamError } from '../providers/types.js';

const keyVar: Record<ProviderName, string> = { openai: 'OPENAI_API_KEY', deepseek: 'DEEPSEEK_API_KEY', gemini: 'GEMINI_API_KEY' };

export function retryHeaders(ms: number | null): Record<string, string> {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return {};
  return { 'retry-after': String(Math.ceil(ms / 1000)), 'retry-after-ms': String(Math.round(ms)) };
}

/** Redacts any configured secret that an upstream message might echo back. */
export function createRedactor(secrets: readonly (string | undefined)[]): (s: string) => string {
  const list = secrets.filter((s): s is string => typeof s === 'string' && s.length >= 6);
  return (s) => {
    let out = s;
    for (const k of list) if (out.includes(k)) out = out.split(k).join('[redacted]');
    // Also the masked forms upstreams print (e.g. "sk-abc***xyz").
    return out.replace(/\b(sk|tg)-[A-Za-z0-9_*-]{6,}/g, '[redacted]');
  };
}

export function clientErrorFor(e: UpstreamError, redact: (s: string) => string): GatewayError {
  const who = e.provider;
  switch (e.kind) {
    case 'auth':
      return new GatewayError(
        'upstream_auth_failed',
        `The gateway's credentials for ${who} were rejected by the provider; the operator must check ${keyVar[who]}.`,
      );
    case 'timeout':
      return new GatewayError('upstream_timeout', `The request to ${who} timed out.`);
    case 'connect':
    case 'reset':
      return new GatewayError('upstream_error', `Could not reach ${who} (${e.kind === 'connect' ? 'connection failed' : 'connection reset'}).`);
    case 'aborted':
      return new GatewayError('invalid_request', 'The client closed the request.', { status: 499 });
    case 'http': {
      const status = e.status ?? 502;
      const message = redact(e.message || `${who} returned HTTP ${status}.`);
      if (status === 429) {
        const quota = e.code === 'insufficient_quota';
        return new GatewayError(quota ? 'insufficient_quota' : 'rate_limit_exceeded', message, {
          headers: retryHeaders(e.retryAfterMs),
          type: e.type ?? (quota ? 'insufficient_quota' : 'requests'),
          wireCode: e.code ?? 'rate_limit_exceeded',
        });
      }
      if (status >= 500) return new GatewayError('upstream_error', message, { status, type: 'api_error', wireCode: e.code });
      return new GatewayError('invalid_request', message, { status, param: e.param, type: e.type ?? 'invalid_request_error', wireCode: e.code });
    }
    default:
      return new GatewayError('upstream_error', `${who} returned an invalid or broken response.`);
  }
}
