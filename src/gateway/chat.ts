// Serves one chat completion: route, admit, call upstream with fallback before the first byte, respond, meter.
import type { ChatChunk, ChatCompletion, ChatRequest } from '../api/openai.js';
import { GatewayError } from '../errors.js';
import { countPromptTokens } from '../metering/tokens.js';
import { tokensFromUsage, type TokenCounts } from '../metering/cost.js';
import type { Attempt } from '../metering/ledger-event.js';
import { picoToUsd } from '../metering/money.js';
import { UpstreamError, type CallContext } from '../providers/types.js';
import { needsOf } from '../routing/needs.js';
import type { Candidate } from '../routing/router.js';
import type { AuthInfo } from '../http/context.js';
import { admit, expectedOutput, plan, routeHeader, type Admitted } from './admission.js';
import type { GatewayDeps } from './deps.js';
import { meter, type MeterInput } from './meter.js';
import { sseStream, type StreamOutcome } from './sse.js';
import { clientErrorFor } from './upstream-errors.js';

export interface ChatCall {
  req: ChatRequest;
  auth: AuthInfo;
  requestId: string;
  t0: number;
  /** Aborted when the client disconnects. */
  clientSignal: AbortSignal;
}

/** A served upstream answer, before it is turned into an HTTP response. */
export type Served =
  | { kind: 'json'; completion: ChatCompletion; candidate: Candidate; rank: number }
  | { kind: 'stream'; first: ChatChunk; rest: AsyncIterator<ChatChunk>; abort: () => void; candidate: Candidate; rank: number };

export async function handleChat(deps: GatewayDeps, call: ChatCall): Promise<Response> {
  const { req, auth } = call;
  const startedAt = deps.clock();
  const promptTokens = countPromptTokens(req);
  const needs = needsOf(req, promptTokens);
  const routePlan = plan(deps, auth, req.model, needs, startedAt, 'chat');
  const estimatedTokens = promptTokens + expectedOutput(deps, auth, req);
  const admitted = await admit(deps, auth, call.requestId, routePlan, estimatedTokens, startedAt);
  const base: Omit<MeterInput, 'model' | 'tokens' | 'usageSource' | 'status' | 'outcome' | 'errorCode' | 'firstByteAt'> = {
    requestId: call.requestId,
    auth,
    endpoint: 'chat',
    route: routePlan.alias,
    stream: req.stream === true,
    attempts: [],
    startedAt,
    t0: call.t0,
    admission: { budgets: admitted.budgets, estimatedTokens },
  };

  let served: Served;
  try {
    served = await callWithFallback(deps, call, admitted, base.attempts);
  } catch (e) {
    const err = e instanceof GatewayError ? e : new GatewayError('internal_error', 'Upstream call failed.');
    const last = base.attempts.at(-1);
    const model = last ? (deps.config.catalog.resolve(`${last.provider}/${last.model}`) ?? null) : null;
    meter(deps, {
      ...base,
      model,
      tokens: null,
      usageSource: 'none',
      status: err.status,
      outcome: call.clientSignal.aborted ? 'aborted' : 'error',
      errorCode: err.wireCode,
      firstByteAt: null,
    });
    throw Object.assign(err, { headers: { ...admitted.rateHeaders, ...err.headers } });
  }

  const model = served.candidate.model;
  const headers: Record<string, string> = {
    ...admitted.rateHeaders,
    'x-request-id': call.requestId,
    'x-tollgate-provider': model.provider,
    'x-tollgate-model': model.id,
    'x-tollgate-route': routeHeader(routePlan, served.rank, base.attempts.length - 1),
  };

  if (served.kind === 'json') {
    const c = served.completion;
    const tokens: TokenCounts | null = c.usage ? tokensFromUsage(c.usage) : null;
    const ev = meter(deps, {
      ...base,
      model,
      tokens: tokens ?? estimateFromCompletion(c, promptTokens),
      usageSource: tokens ? 'reported' : 'estimated',
      status: 200,
      outcome: 'ok',
      errorCode: null,
      firstByteAt: performance.now(),
    });
    headers['x-tollgate-cost-usd'] = picoToUsd(ev.costPico);
    headers['content-type'] = 'application/json';
    return new Response(JSON.stringify(c), { status: 200, headers });
  }

  const includeUsage = req.stream_options?.include_usage === true;
  const onDone = (o: StreamOutcome) => {
    const reported = o.usage ? tokensFromUsage(o.usage) : null;
    meter(deps, {
      ...base,
      model,
      tokens: reported ?? { input: promptTokens, cachedInput: 0, output: o.countedOutput + o.countedReasoning, reasoning: o.countedReasoning },
      usageSource: reported ? 'reported' : 'estimated',
      status: 200,
      outcome: o.aborted ? 'aborted' : o.error ? 'error' : 'ok',
      errorCode: o.error ? (o.error.code ?? 'upstream_stream_error') : null,
      firstByteAt: o.firstChunkAt,
    });
  };
  headers['content-type'] = 'text/event-stream; charset=utf-8';
  headers['cache-control'] = 'no-cache';
  return new Response(
    sseStream({ first: served.first, rest: served.rest, includeUsage, abortUpstream: served.abort, onDone, provider: model.provider }),
    { status: 200, headers },
  );
}

function estimateFromCompletion(c: ChatCompletion, promptTokens: number): TokenCounts {
  let out = 0;
  for (const ch of c.choices) out += Math.ceil((ch.message.content ?? '').length / 4);
  return { input: promptTokens, cachedInput: 0, output: out, reasoning: 0 };
}

function linkSignals(client: AbortSignal, timeoutMs: number): AbortController {
  const ac = new AbortController();
  if (client.aborted) ac.abort(client.reason);
  else client.addEventListener('abort', () => ac.abort(client.reason), { once: true });
  const t = setTimeout(() => ac.abort(new DOMException('upstream timeout', 'TimeoutError')), timeoutMs);
  t.unref();
  ac.signal.addEventListener('abort', () => clearTimeout(t), { once: true });
  return ac;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function callWithFallback(deps: GatewayDeps, call: ChatCall, admitted: Admitted, attempts: Attempt[]): Promise<Served> {
  const { candidates } = admitted.plan;
  const limit = Math.min(admitted.maxAttempts, candidates.length);
  const redact = deps.redact;
  for (let i = 0; i < limit; i++) {
    const cand = candidates[i];
    const provider = deps.providers.get(cand.model.provider);
    if (!provider) throw new GatewayError('provider_not_configured', `Provider ${cand.model.provider} is not configured.`);
    // A half-open circuit lets one probe through; when another request holds it, go to the next candidate.
    if (!deps.health.available(cand.model.provider, cand.model.id) && i + 1 < limit) continue;
    const ac = linkSignals(call.clientSignal, deps.config.file.server.request_timeout_ms);
    const ctx: CallContext = {
      upstreamModel: cand.model.upstream_id ?? cand.model.id,
      requestId: call.requestId,
      signal: ac.signal,
      tenantId: call.auth.tenant.id,
    };
    const ta = performance.now();
    try {
      if (call.req.stream) {
        const stream = await provider.chatStream(call.req, ctx);
        const it = stream[Symbol.asyncIterator]();
        // Pull the first chunk before committing: a failure until here can still fall back.
        const first = await it.next();
        if (first.done) throw new UpstreamError({ provider: provider.name, kind: 'invalid_response', message: 'The upstream stream ended before any data.' });
        deps.health.success(cand.model.provider, cand.model.id);
        attempts.push({ provider: cand.model.provider, model: cand.model.id, status: 200, error: null, latencyMs: performance.now() - ta });
        return { kind: 'stream', first: first.value, rest: it, abort: () => ac.abort(), candidate: cand, rank: i + 1 };
      }
      const completion = await provider.chat(call.req, ctx);
      ac.abort(); // releases the timer; the exchange is complete
      deps.health.success(cand.model.provider, cand.model.id);
      attempts.push({ provider: cand.model.provider, model: cand.model.id, status: 200, error: null, latencyMs: performance.now() - ta });
      return { kind: 'json', completion, candidate: cand, rank: i + 1 };
    } catch (e) {
      ac.abort();
      if (e instanceof GatewayError) throw e; // a request this provider cannot take: the client's to fix
      const ue = e instanceof UpstreamError ? e : new UpstreamError({ provider: cand.model.provider, kind: 'invalid_response', message: 'Upstream call failed.', cause: e });
      attempts.push({ provider: cand.model.provider, model: cand.model.id, status: ue.status, error: `${ue.kind}${ue.code ? `:${ue.code}` : ''}`, latencyMs: performance.now() - ta });
      if (call.clientSignal.aborted) throw new GatewayError('invalid_request', 'The client closed the request.', { status: 499 });
      if (ue.kind !== 'http' || (ue.status ?? 0) >= 500 || ue.status === 429) deps.health.failure(cand.model.provider, cand.model.id);
      deps.metrics.upstreamError(cand.model.provider, ue.kind === 'http' ? String(ue.status) : ue.kind);
      const next = candidates[i + 1];
      if (!ue.retryable || !admitted.fallback || i + 1 >= limit || !next) throw clientErrorFor(ue, redact);
      deps.metrics.fallback(cand.model.id, next.model.id);
      // The same provider again is asked to wait (Retry-After, capped); another provider is tried at once, with jitter.
      const wait = next.model.provider === cand.model.provider ? Math.min(ue.retryAfterMs ?? 50 * (i + 1), 2_000) : 0;
      await sleep(wait + Math.random() * 10);
    }
  }
  throw new GatewayError('no_route', 'No model could serve this request.');
}
