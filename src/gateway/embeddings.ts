// Serves one embeddings request: resolve the (pinned) embedding model, admit, call, meter.
import type { EmbeddingRequest } from '../api/openai.js';
import { GatewayError } from '../errors.js';
import { countEmbeddingInputTokens } from '../metering/tokens.js';
import { picoToUsd } from '../metering/money.js';
import { UpstreamError } from '../providers/types.js';
import type { AuthInfo } from '../http/context.js';
import { embeddingNeeds } from '../routing/needs.js';
import { admit, plan, servedHeaders } from './admission.js';
import type { GatewayDeps } from './deps.js';
import { meter, type BaseMeter } from './meter.js';
import { clientErrorFor } from './upstream-errors.js';
import { linkSignals, type ClientSignal } from './upstream-signal.js';

export interface EmbeddingsCall {
  req: EmbeddingRequest;
  auth: AuthInfo;
  requestId: string;
  t0: number;
  clientSignal: ClientSignal;
}

export async function handleEmbeddings(deps: GatewayDeps, call: EmbeddingsCall): Promise<Response> {
  const { req, auth } = call;
  const startedAt = deps.clock();
  const inputTokens = countEmbeddingInputTokens(req.input);
  const needs = embeddingNeeds(inputTokens);
  const routePlan = plan(deps, auth, req.model, needs, startedAt, 'embedding');
  const admitted = await admit(deps, auth, call.requestId, routePlan, inputTokens, startedAt);
  const cand = routePlan.candidates[0];
  const model = cand.model;
  const base: BaseMeter = {
    requestId: call.requestId,
    auth,
    endpoint: 'embeddings',
    route: routePlan.alias,
    stream: false,
    attempts: [],
    startedAt,
    t0: call.t0,
    admission: { budgets: admitted.budgets, estimatedTokens: inputTokens },
  };
  const provider = deps.providers.get(model.provider);
  if (!provider) throw new GatewayError('provider_not_configured', `Provider ${model.provider} is not configured.`);
  const ta = performance.now();
  const signal = linkSignals(call.clientSignal, deps.config.file.server.request_timeout_ms);
  try {
    const { response, usageSource } = await provider.embed(req, {
      upstreamModel: model.upstream_id ?? model.id,
      requestId: call.requestId,
      signal: signal.signal,
      abort: signal.abort,
      tenantId: auth.tenant.id,
    });
    signal.release();
    deps.health.success(model.provider, model.id);
    const input = response.usage?.prompt_tokens ?? inputTokens;
    base.attempts.push({ provider: model.provider, model: model.id, status: 200, error: null, latencyMs: performance.now() - ta });
    const ev = meter(deps, base, {
      model,
      tokens: { input, cachedInput: 0, output: 0, reasoning: 0 },
      usageSource,
      status: 200,
      outcome: 'ok',
      errorCode: null,
      firstByteAt: performance.now(),
    });
    return new Response(JSON.stringify({ ...response, model: model.id }), {
      status: 200,
      headers: {
        ...servedHeaders(admitted, call.requestId, { provider: model.provider, model: model.id, rank: 1, fallbacks: 0 }),
        'content-type': 'application/json',
        'x-tollgate-cost-usd': picoToUsd(ev.costPico),
      },
    });
  } catch (e) {
    signal.abort();
    const err =
      e instanceof GatewayError
        ? e
        : e instanceof UpstreamError
          ? clientErrorFor(e, deps.redact)
          : new GatewayError('internal_error', 'Upstream call failed.');
    if (e instanceof UpstreamError) {
      deps.metrics.upstreamError(model.provider, e.kind === 'http' ? String(e.status) : e.kind);
      if (e.kind !== 'http' || (e.status ?? 0) >= 500) deps.health.failure(model.provider, model.id);
    }
    base.attempts = [{ provider: model.provider, model: model.id, status: e instanceof UpstreamError ? e.status : null, error: err.wireCode, latencyMs: performance.now() - ta }];
    meter(deps, base, {
      model,
      tokens: null,
      usageSource: 'none',
      status: err.status,
      outcome: 'error',
      errorCode: err.wireCode,
      firstByteAt: null,
    });
    throw err;
  }
}
