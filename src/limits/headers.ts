// OpenAI's x-ratelimit-* response headers and the 429 errors of the limiter, so the official SDKs back off as they should.
import { GatewayError } from '../errors.js';
import { budgetExhaustedMessage } from './budgets.js';
import type { AdmitResult, RateLimitState } from './interface.js';

/** A duration as OpenAI writes it (Go's time.Duration format): "0s", "12ms", "1s", "1.5s", "6m0s", "1h2m3s". */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.ceil(ms));
  if (total === 0) return '0s';
  if (total < 1000) return `${total}ms`;
  const h = Math.floor(total / 3_600_000);
  const m = Math.floor((total % 3_600_000) / 60_000);
  const sMs = total % 60_000;
  const frac = (sMs % 1000).toString().padStart(3, '0').replace(/0+$/, '');
  const s = `${Math.floor(sMs / 1000)}${frac ? `.${frac}` : ''}s`;
  if (h > 0) return `${h}h${m}m${s}`;
  if (m > 0) return `${m}m${s}`;
  return s;
}

export function rateLimitHeaders(state: RateLimitState): Record<string, string> {
  const out: Record<string, string> = {};
  if (state.limitRequests !== null) {
    out['x-ratelimit-limit-requests'] = String(state.limitRequests);
    out['x-ratelimit-remaining-requests'] = String(state.remainingRequests ?? 0);
    out['x-ratelimit-reset-requests'] = formatDuration(state.resetRequestsMs ?? 0);
  }
  if (state.limitTokens !== null) {
    out['x-ratelimit-limit-tokens'] = String(state.limitTokens);
    out['x-ratelimit-remaining-tokens'] = String(state.remainingTokens ?? 0);
    out['x-ratelimit-reset-tokens'] = formatDuration(state.resetTokensMs ?? 0);
  }
  return out;
}

type Refusal = Extract<AdmitResult, { ok: false }>;

/** The 429 for a refused admission: rate_limit_exceeded (type requests|tokens) or insufficient_quota for a budget. */
export function rejectionError(result: Refusal): GatewayError {
  const retryMs = Math.max(0, Math.ceil(result.retryAfterMs));
  const headers: Record<string, string> = {
    ...rateLimitHeaders(result.rate),
    'retry-after': String(Math.ceil(retryMs / 1000)),
    'retry-after-ms': String(retryMs),
  };
  const wait = formatDuration(retryMs);
  if (result.reason === 'budget') {
    const message = result.budget ? budgetExhaustedMessage(result.budget) : 'Budget exhausted';
    // Retrying within seconds cannot help: tell the SDKs not to.
    return new GatewayError('insufficient_quota', `${message}.`, { headers: { ...headers, 'x-should-retry': 'false' } });
  }
  if (result.reason === 'requests') {
    const limit = result.rate.limitRequests;
    return new GatewayError('rate_limit_exceeded', `Rate limit reached for requests per minute (RPM): Limit ${limit}. Please try again in ${wait}.`, {
      type: 'requests',
      headers,
    });
  }
  const limit = result.rate.limitTokens;
  return new GatewayError(
    'rate_limit_exceeded',
    `Rate limit reached for tokens per minute (TPM): Limit ${limit}, Remaining ${result.rate.remainingTokens}. Please try again in ${wait}.`,
    { type: 'tokens', headers },
  );
}
