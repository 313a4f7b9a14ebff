// Serves one chat completion: route, response cache, admit, call upstream with fallback before the first byte, respond, meter.
import type { ServerResponse } from 'node:http';
import type { ChatChunk, ChatCompletion, ChatRequest } from '../api/openai.js';
import { withFallback } from './fallback.js';
import { GatewayError } from '../errors.js';
import { countPromptTokens, estimatePromptTokens } from '../metering/tokens.js';
import { tokensFromUsage, type TokenCounts } from '../metering/cost.js';
import type { Attempt } from '../metering/ledger-event.js';
import { picoToUsd } from '../metering/money.js';
import { completionText, UpstreamError } from '../providers/types.js';
import { needsOf } from '../routing/needs.js';
import type { Candidate, RoutePlan } from '../routing/router.js';
import type { CatalogModel } from '../config/catalog.js';
import type { AuthInfo } from '../http/context.js';
import { CACHE_HEADER, createStreamTap, lookupCache, planCache, storeAnswer, type CachePlan, type StreamTap } from '../cache/gate.js';
import { chunksToCompletion, completionToChunks } from '../cache/convert.js';
import type { CachedEntry } from '../cache/interface.js';
import { admit, expectedOutput, plan, servedHeaders, type Admitted } from './admission.js';
import type { GatewayDeps } from './deps.js';
import { meter, meterFailure, type BaseMeter } from './meter.js';
import { countedTokens, sseSource, type StreamOutcome } from './sse.js';
import { sseResponse } from '../http/sse-out.js';
import type { ClientSignal } from './upstream-signal.js';
import { withKey } from '../objects.js';

export interface ChatCall {
  req: ChatRequest;
  auth: AuthInfo;
  requestId: string;
  t0: number;
  /** Aborted when the client disconnects. */
  clientSignal: ClientSignal;
  /** The request's `x-tollgate-cache` header (`no-store`, `max-age=N`), if any. */
  cacheHeader?: string | null;
  /** The Node response when served by @hono/node-server: a stream is written to it directly (src/http/sse-out.ts). */
  out?: ServerResponse;
}

/** A served upstream answer, before it is turned into an HTTP response. */
export type Served =
  | { kind: 'json'; completion: ChatCompletion; candidate: Candidate; rank: number }
  | { kind: 'stream'; first: ChatChunk; rest: AsyncIterator<ChatChunk>; abort: () => void; release: () => void; candidate: Candidate; rank: number };

type UseCache = Extract<CachePlan, { mode: 'use' }>;

/** What a request knows before it is admitted: its plan, its cache plan, its prefix for cache affinity. */
interface Prepared {
  promptTokens: number;
  startedAt: Date;
  routePlan: RoutePlan;
  cache: CachePlan;
  /** Tenant-scoped hash of the leading prompt tokens (null: too short to be cached by a provider, or affinity off). */
  prefixKey: string | null;
}

export async function handleChat(deps: GatewayDeps, call: ChatCall): Promise<Response> {
  const p = prepare(deps, call);
  if (p.cache.mode === 'off') return serveUpstream(deps, call, p, null);
  if (p.cache.mode === 'bypass') {
    deps.metrics.cacheRequest(call.auth.tenant.name, 'bypass');
    return serveUpstream(deps, call, p, 'bypass');
  }
  // A second round trip for the tenants that enabled the cache (the limiter's is the first): a hit reserves no budget.
  const look = await lookupCache(deps.responseCache, p.cache, p.startedAt.getTime(), (m) => p.routePlan.candidates.some((c) => c.model.id === m), deps.logger);
  deps.metrics.cacheRequest(call.auth.tenant.name, look.result);
  if (look.entry) return serveHit(deps, call, p, look.entry);
  return serveUpstream(deps, call, p, p.cache);
}

function prepare(deps: GatewayDeps, call: ChatCall): Prepared {
  const { req, auth } = call;
  const startedAt = deps.clock();
  const promptTokens = estimatePromptTokens(req, deps.config.catalog.exactCountFrom);
  const needs = needsOf(req, promptTokens);
  const prefixKey = auth.tenant.policy.cache.affinity ? deps.affinity.prefixKey(auth.tenant.id, req) : null;
  const hint = prefixKey ? deps.affinity.hint(prefixKey) : null;
  const routePlan = plan(deps, auth, req.model, needs, startedAt, 'chat', hint);
  return { promptTokens, startedAt, routePlan, cache: planCache(auth.tenant.policy, auth.tenant.id, req, call.cacheHeader), prefixKey };
}

function baseOf(call: ChatCall, p: Prepared, admitted: Admitted, estimatedTokens: number): BaseMeter {
  return {
    requestId: call.requestId,
    auth: call.auth,
    endpoint: 'chat',
    route: p.routePlan.alias,
    stream: call.req.stream === true,
    attempts: [],
    startedAt: p.startedAt,
    t0: call.t0,
    admission: { budgets: admitted.budgets, estimatedTokens },
  };
}

/** Answers from the cache in the client's format: no upstream call, cost 0, the original cost recorded as saved. */
async function serveHit(deps: GatewayDeps, call: ChatCall, p: Prepared, entry: CachedEntry): Promise<Response> {
  const { req, auth } = call;
  // Rate limits count the request; no tokens are bought, so none are charged to TPM and no budget is reserved.
  const admitted = await admit(deps, auth, call.requestId, p.routePlan, 0, p.startedAt, false);
  const model = deps.config.catalog.resolve(`${entry.provider}/${entry.model}`) ?? deps.config.catalog.resolve(entry.model) ?? null;
  const base = baseOf(call, p, admitted, 0);
  const hit = (firstByteAt: number | null, outcome: 'cache_hit' | 'aborted') =>
    meter(deps, base, {
      model,
      tokens: null,
      usageSource: 'none',
      status: 200,
      outcome,
      errorCode: null,
      firstByteAt,
      cacheHit: true,
      savedResponseCachePico: BigInt(entry.costPico),
      hitTokens: entry.tokens,
    });
  const headers = servedHeaders(admitted, call.requestId, { provider: entry.provider, model: entry.model, rank: 0, fallbacks: 0 });
  headers[CACHE_HEADER] = 'hit';
  if (!req.stream) {
    const c = entry.answer.kind === 'json' ? entry.answer.completion : chunksToCompletion(entry.answer.chunks);
    hit(performance.now(), 'cache_hit');
    headers['x-tollgate-cost-usd'] = picoToUsd(0n);
    headers['content-type'] = 'application/json';
    return new Response(JSON.stringify(c), { status: 200, headers });
  }
  const [first, ...rest] = entry.answer.kind === 'stream' ? entry.answer.chunks : completionToChunks(entry.answer.completion);
  const it = rest[Symbol.iterator]();
  const replay: AsyncIterator<ChatChunk> = { next: async () => it.next() };
  headers['content-type'] = 'text/event-stream; charset=utf-8';
  headers['cache-control'] = 'no-cache';
  const onDone = (o: StreamOutcome) => void hit(o.firstChunkAt, o.aborted ? 'aborted' : 'cache_hit');
  const src = sseSource({ first, rest: replay, includeUsage: req.stream_options?.include_usage === true, abortUpstream: () => {}, onDone, provider: entry.provider });
  return sseResponse(call.out, headers, src);
}

/** `cacheUse`: a miss to store the answer under, `bypass` (header says so), or null (cache off for this tenant). */
async function serveUpstream(deps: GatewayDeps, call: ChatCall, p: Prepared, cacheUse: UseCache | 'bypass' | null): Promise<Response> {
  const cache = cacheUse === 'bypass' ? null : cacheUse;
  const { req, auth } = call;
  const estimatedTokens = p.promptTokens + expectedOutput(deps, auth, req);
  // A refused stream must reserve nothing: take the tenant's stream slot before admission, give it back exactly once.
  const releaseSlot = req.stream ? acquireStreamSlot(deps, auth) : () => {};
  let admitted: Admitted;
  try {
    admitted = await admit(deps, auth, call.requestId, p.routePlan, estimatedTokens, p.startedAt);
  } catch (e) {
    releaseSlot();
    throw e;
  }
  const base = baseOf(call, p, admitted, estimatedTokens);
  // OpenAI routes requests with the same prompt_cache_key to the same cache; hashed, so no tenant id leaves the gateway.
  const promptCacheKey = p.prefixKey ? `tg-${p.prefixKey}` : null;

  let served: Served;
  try {
    served = await callWithFallback(deps, call, admitted, base.attempts, promptCacheKey);
  } catch (e) {
    releaseSlot();
    throw meterFailure(deps, base, admitted.rateHeaders, call.clientSignal, e);
  }
  if (served.kind === 'stream') {
    const releaseSignal = served.release;
    served = { ...served, release: () => (releaseSignal(), releaseSlot()) };
  } else releaseSlot();

  const model = served.candidate.model;
  const headers = servedHeaders(admitted, call.requestId, { provider: model.provider, model: model.id, rank: served.rank, fallbacks: base.attempts.length - 1 });
  if (cacheUse) headers[CACHE_HEADER] = cache ? 'miss' : 'bypass';
  const { learn, keep } = followUps(deps, call, p, cache, model);

  if (served.kind === 'json') {
    const c = served.completion;
    const reported: TokenCounts | null = c.usage ? tokensFromUsage(c.usage) : null;
    const tokens = reported ?? estimateFromCompletion(c, countPromptTokens(req));
    const ev = meter(deps, base, { model, tokens, usageSource: reported ? 'reported' : 'estimated', status: 200, outcome: 'ok', errorCode: null, firstByteAt: performance.now() });
    if (reported) learn(reported);
    // The upstream's own bytes when the adapter left the answer as it came (no second JSON.stringify).
    const body = completionText.get(c) ?? JSON.stringify(c);
    keep({ kind: 'json', completion: c }, body.length, ev.costPico, tokens);
    headers['x-tollgate-cost-usd'] = picoToUsd(ev.costPico);
    headers['content-type'] = 'application/json';
    return new Response(body, { status: 200, headers });
  }

  return streamResponse(deps, call, p, { base, served, headers, cache, learn, keep });
}

interface FollowUps {
  /** Teach the affinity memory which model served this prefix and how much of it the provider had cached. */
  learn: (t: TokenCounts) => void;
  /** Store the answer in the response cache (when this request may). */
  keep: (answer: CachedEntry['answer'], answerBytes: number, costPico: bigint, tokens: TokenCounts) => void;
}

function followUps(deps: GatewayDeps, call: ChatCall, p: Prepared, cache: UseCache | null, model: CatalogModel): FollowUps {
  const count = (r: 'store' | 'error') => deps.metrics.cacheRequest(call.auth.tenant.name, r);
  return {
    learn(t) {
      if (p.prefixKey) deps.affinity.record(p.prefixKey, model.id, t.input, t.cachedInput);
    },
    keep(answer, answerBytes, costPico, tokens) {
      if (!cache) return;
      storeAnswer({ cache: deps.responseCache, plan: cache, model, costPico, tokens, createdAt: p.startedAt.getTime(), answer, answerBytes, logger: deps.logger, count });
    },
  };
}

interface StreamArgs extends FollowUps {
  base: BaseMeter;
  served: Extract<Served, { kind: 'stream' }>;
  headers: Record<string, string>;
  cache: UseCache | null;
}

/** The SSE response of an upstream stream: metered, learned from and (when clean) stored once it ends. */
function streamResponse(deps: GatewayDeps, call: ChatCall, p: Prepared, a: StreamArgs): Response {
  const { base, served, headers, cache, learn, keep } = a;
  const model = served.candidate.model;
  const tap: StreamTap | null = cache ? createStreamTap(served.first, cache.maxEntryBytes) : null;
  const onDone = (o: StreamOutcome) => {
    served.release();
    const reported = o.usage ? tokensFromUsage(o.usage) : null;
    const tokens = reported ?? { input: countPromptTokens(call.req), cachedInput: 0, ...countedTokens(o) };
    const outcome = o.aborted ? 'aborted' : o.error ? 'error' : 'ok';
    const ev = meter(deps, base, {
      model,
      tokens,
      usageSource: reported ? 'reported' : 'estimated',
      status: 200,
      outcome,
      errorCode: o.error ? (o.error.code ?? 'upstream_stream_error') : null,
      firstByteAt: o.firstChunkAt,
    });
    if (reported) learn(reported);
    const chunks = tap?.chunks();
    if (outcome === 'ok' && tap && chunks) keep({ kind: 'stream', chunks }, tap.bytes(), ev.costPico, tokens);
  };
  headers['content-type'] = 'text/event-stream; charset=utf-8';
  headers['cache-control'] = 'no-cache';
  const rest = tap ? tap.wrap(served.rest) : served.rest;
  const src = sseSource({ first: served.first, rest, includeUsage: call.req.stream_options?.include_usage === true, abortUpstream: served.abort, onDone, provider: model.provider });
  return sseResponse(call.out, headers, src);
}


function estimateFromCompletion(c: ChatCompletion, promptTokens: number): TokenCounts {
  let out = 0;
  for (const ch of c.choices) out += Math.ceil((ch.message.content ?? '').length / 4);
  return { input: promptTokens, cachedInput: 0, output: out, reasoning: 0 };
}



async function callWithFallback(
  deps: GatewayDeps,
  call: ChatCall,
  admitted: Admitted,
  attempts: Attempt[],
  promptCacheKey: string | null,
): Promise<Served> {
  const input = { admitted, attempts, clientSignal: call.clientSignal, requestId: call.requestId, tenantId: call.auth.tenant.id };
  return withFallback<Served>(deps, input, async ({ cand, provider, ctx, signal, rank }) => {
    const req =
      promptCacheKey && cand.model.provider === 'openai' && call.req.prompt_cache_key == null ? withKey(call.req, 'prompt_cache_key', promptCacheKey) : call.req;
    if (req.stream) {
      const stream = await provider.chatStream(req, ctx);
      const it = stream[Symbol.asyncIterator]();
      // Pull the first chunk before committing: a failure until here can still fall back.
      const first = await it.next();
      if (first.done) throw new UpstreamError({ provider: provider.name, kind: 'invalid_response', message: 'The upstream stream ended before any data.' });
      return { kind: 'stream', first: first.value, rest: it, abort: signal.abort, release: signal.release, candidate: cand, rank };
    }
    const completion = await provider.chat(req, ctx);
    signal.release(); // the exchange is complete
    return { kind: 'json', completion, candidate: cand, rank };
  });
}

/** Per-tenant concurrent streams (policy.rate_limits.max_concurrent_streams), counted per replica. Returns the release. */
function acquireStreamSlot(deps: GatewayDeps, auth: ChatCall['auth']): () => void {
  const max = auth.tenant.policy.rate_limits.max_concurrent_streams;
  if (max === undefined) return () => {};
  if (!deps.streams.acquire(auth.tenant.id, max)) {
    deps.metrics.rateLimited(auth.tenant.name, 'streams');
    throw new GatewayError('too_many_streams', `Too many concurrent streams for this tenant (the limit is ${max}); retry when one ends.`, {
      headers: { 'retry-after': '1' },
    });
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    deps.streams.release(auth.tenant.id);
  };
}
