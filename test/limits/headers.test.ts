// OpenAI's rate-limit headers and the limiter's 429s, checked against the official openai SDK over real HTTP.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatewayError } from '../../src/errors.js';
import { formatDuration, rateLimitHeaders, rejectionError } from '../../src/limits/headers.js';
import type { AdmitResult, RateLimitState } from '../../src/limits/interface.js';

type Refusal = Extract<AdmitResult, { ok: false }>;

const rate: RateLimitState = {
  limitRequests: 60,
  remainingRequests: 0,
  resetRequestsMs: 1000,
  limitTokens: 150000,
  remainingTokens: 149000,
  resetTokensMs: 400,
};

describe('formatDuration', () => {
  it("writes durations as OpenAI does (Go's format)", () => {
    expect([0, 12, 999, 1000, 1500, 6.4e3, 60_000, 360_000, 90_500, 3_723_000].map(formatDuration)).toEqual([
      '0s', '12ms', '999ms', '1s', '1.5s', '6.4s', '1m0s', '6m0s', '1m30.5s', '1h2m3s',
    ]);
    expect(formatDuration(11.2)).toBe('12ms'); // never promises less than the real wait
  });
});

describe('rateLimitHeaders', () => {
  it('gives the six x-ratelimit-* headers, only for the limits that apply', () => {
    expect(rateLimitHeaders(rate)).toEqual({
      'x-ratelimit-limit-requests': '60',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-requests': '1s',
      'x-ratelimit-limit-tokens': '150000',
      'x-ratelimit-remaining-tokens': '149000',
      'x-ratelimit-reset-tokens': '400ms',
    });
    const none = { ...rate, limitTokens: null, remainingTokens: null, resetTokensMs: null };
    expect(Object.keys(rateLimitHeaders(none))).toEqual(['x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests']);
  });
});

describe('rejectionError', () => {
  it('is a 429 rate_limit_exceeded of type requests or tokens, with retry-after and retry-after-ms', () => {
    const e = rejectionError({ ok: false, reason: 'requests', retryAfterMs: 1200, rate, budgets: [] });
    expect([e.status, e.code, e.type, e.headers['retry-after'], e.headers['retry-after-ms']]).toEqual([429, 'rate_limit_exceeded', 'requests', '2', '1200']);
    expect(e.headers['x-ratelimit-limit-requests']).toBe('60');
    const t = rejectionError({ ok: false, reason: 'tokens', retryAfterMs: 300, rate, budgets: [] });
    expect([t.status, t.toBody().error.code, t.toBody().error.type]).toEqual([429, 'rate_limit_exceeded', 'tokens']);
  });

  it('is a 429 insufficient_quota naming the budget and its reset for an exhausted budget', () => {
    const budget = { period: 'month' as const, limitPico: 500n * 10n ** 12n, spentPico: 500n * 10n ** 12n, mode: 'hard' as const, resetsAt: new Date('2026-12-01T00:00:00Z') };
    const e = rejectionError({ ok: false, reason: 'budget', retryAfterMs: 86_400_000, rate, budgets: [budget], budget });
    expect([e.status, e.toBody().error.code, e.toBody().error.type]).toEqual([429, 'insufficient_quota', 'insufficient_quota']);
    expect(e.message).toContain('Monthly budget of $500.00 exhausted; resets at 2026-12-01T00:00:00Z');
    expect(e.headers['retry-after']).toBe('86400');
  });
});

describe('the official openai SDK', () => {
  let server: Server;
  let answer: GatewayError;
  let hits = 0;
  let baseURL = '';

  beforeAll(async () => {
    server = createServer((req, res) => {
      hits++;
      req.resume();
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(JSON.stringify(answer.toBody()));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const call = (maxRetries: number) =>
    new OpenAI({ apiKey: 'k', baseURL, maxRetries }).chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'hi' }] });

  it('sees a RateLimitError with our code, type and headers, and retries after retry-after-ms', async () => {
    const refusal: Refusal = { ok: false, reason: 'requests', retryAfterMs: 5, rate, budgets: [] };
    answer = rejectionError(refusal);
    hits = 0;
    const err = await call(1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    const rl = err as InstanceType<typeof OpenAI.RateLimitError>;
    expect([rl.status, rl.code, rl.type, rl.headers.get('x-ratelimit-limit-requests')]).toEqual([429, 'rate_limit_exceeded', 'requests', '60']);
    expect(hits).toBe(2);
  });

  it('does not retry an exhausted budget', async () => {
    const budget = { period: 'day' as const, limitPico: 1n, spentPico: 1n, mode: 'hard' as const, resetsAt: new Date('2031-01-02T00:00:00Z') };
    answer = rejectionError({ ok: false, reason: 'budget', retryAfterMs: 1000, rate, budgets: [budget], budget });
    hits = 0;
    const err = await call(2).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).code).toBe('insufficient_quota');
    expect(hits).toBe(1);
  });
});
