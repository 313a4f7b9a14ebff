// Serves the Responses API: history from previous_response_id, the chat policy path (plan, admit, fallback), the answer
// (native OpenAI pass-through or translated), the stored response, metering with endpoint `responses`; GET and DELETE.
import type { ServerResponse } from 'node:http';
import type { ChatRequest } from '../api/openai.js';
import type { CatalogModel } from '../config/catalog.js';
import { GatewayError } from '../errors.js';
import { tokensFromUsage, type TokenCounts } from '../metering/cost.js';
import { picoToUsd } from '../metering/money.js';
import { countPromptTokens, estimatePromptTokens } from '../metering/tokens.js';
import {
  chatUsageOf,
  defaultRetentionMs,
  inputItems,
  loadHistory,
  newResponseId,
  responsesToChat,
  shouldStore,
  storedResponseObject,
  toStored,
  type ResponseItem,
  type ResponsesRequest,
} from '../responses/index.js';
import type { ResponseObject } from '../responses/types.js';
import { needsOf } from '../routing/needs.js';
import type { RoutePlan } from '../routing/router.js';
import type { AuthInfo } from '../http/context.js';
import { admit, expectedOutput, plan, servedHeaders } from './admission.js';
import type { GatewayDeps } from './deps.js';
import { meter, meterFailure, type BaseMeter } from './meter.js';
import { callResponsesWithFallback, type ResponsesAttemptInput, type ServedResponse } from './responses-attempts.js';
import { responseEventSource, type EventStreamOutcome } from './responses-events.js';
import { sseResponse } from '../http/sse-out.js';
import { countedTokens } from './sse.js';
import type { ClientSignal } from './upstream-signal.js';

export interface ResponsesCall {
  req: ResponsesRequest;
  auth: AuthInfo;
  requestId: string;
  t0: number;
  /** Aborted when the client disconnects. */
  clientSignal: ClientSignal;
  /** The Node response when served by @hono/node-server: a stream is written to it directly (src/http/sse-out.ts). */
  out?: ServerResponse;
}


interface Prepared {
  startedAt: Date;
  history: ResponseItem[];
  input: ResponsesAttemptInput;
  promptTokens: number;
  routePlan: RoutePlan;
}

export async function handleResponses(deps: GatewayDeps, call: ResponsesCall): Promise<Response> {
  try {
    return await serve(deps, call);
  } catch (e) {
    throw e instanceof GatewayError ? inResponsesTerms(e) : e;
  }
}

/** Chat Completions parameter names (the router and the adapters check the translated request) → the client's names. */
const paramNames: Record<string, string> = {
  response_format: 'text.format',
  max_completion_tokens: 'max_output_tokens',
  max_tokens: 'max_output_tokens',
  messages: 'input',
  reasoning_effort: 'reasoning.effort',
  verbosity: 'text.verbosity',
};

/** An error that names a chat parameter is reworded to name the Responses parameter the client actually sent. */
export function inResponsesTerms(e: GatewayError): GatewayError {
  const chatParam = e.param?.split(/[.[]/)[0] ?? '';
  const name = paramNames[chatParam];
  if (!name || !e.param) return e;
  const param = name + e.param.slice(chatParam.length);
  const message = e.message.replaceAll(chatParam, name);
  return new GatewayError(e.code, message, { param, status: e.status, type: e.type, headers: e.headers, wireCode: e.wireCode, cause: e.cause });
}

async function serve(deps: GatewayDeps, call: ResponsesCall): Promise<Response> {
  const p = await prepare(deps, call);
  const estimatedTokens = p.promptTokens + expectedOutput(deps, call.auth, p.input.chat);
  const admitted = await admit(deps, call.auth, call.requestId, p.routePlan, estimatedTokens, p.startedAt);
  const base: BaseMeter = {
    requestId: call.requestId,
    auth: call.auth,
    endpoint: 'responses',
    route: p.routePlan.alias,
    stream: call.req.stream === true,
    attempts: [],
    startedAt: p.startedAt,
    t0: call.t0,
    admission: { budgets: admitted.budgets, estimatedTokens },
  };
  let served: ServedResponse;
  try {
    served = await callResponsesWithFallback(deps, p.input, admitted, base.attempts);
  } catch (e) {
    throw meterFailure(deps, base, admitted.rateHeaders, call.clientSignal, e);
  }
  const model = served.candidate.model;
  const headers = servedHeaders(admitted, call.requestId, { provider: model.provider, model: model.id, rank: served.rank, fallbacks: base.attempts.length - 1 });
  const save = (response: ResponseObject) => saveIfAsked(deps, call, p, response);

  if (served.kind === 'json') {
    const usage = served.response.usage;
    const tokens: TokenCounts = usage ? tokensFromUsage(chatUsageOf(usage)) : estimateOf(served.response, countPromptTokens(p.input.chat));
    await save(served.response);
    const ev = meter(deps, base, { model, tokens, usageSource: usage ? 'reported' : 'estimated', status: 200, outcome: 'ok', errorCode: null, firstByteAt: performance.now() });
    headers['x-tollgate-cost-usd'] = picoToUsd(ev.costPico);
    headers['content-type'] = 'application/json';
    return new Response(JSON.stringify(served.response), { status: 200, headers });
  }

  const src = responseEventSource({
    first: served.first,
    rest: served.rest,
    abortUpstream: served.abort,
    beforeFinal: save,
    onDone: (o) => meterStream(deps, base, model, p.input.chat, o),
  });
  headers['content-type'] = 'text/event-stream; charset=utf-8';
  headers['cache-control'] = 'no-cache';
  return sseResponse(call.out, headers, src);
}

/** Usage off the terminal event when there was one (OpenAI and the translation both report it); else counted deltas. */
function meterStream(deps: GatewayDeps, base: BaseMeter, model: CatalogModel, chat: ChatRequest, o: EventStreamOutcome): void {
  const usage = o.final?.usage ?? null;
  const tokens: TokenCounts = usage
    ? tokensFromUsage(chatUsageOf(usage))
    : { input: countPromptTokens(chat), cachedInput: 0, ...countedTokens(o) };
  meter(deps, base, {
    model,
    tokens,
    usageSource: usage ? 'reported' : 'estimated',
    status: 200,
    outcome: o.aborted ? 'aborted' : o.errorCode ? 'error' : 'ok',
    errorCode: o.errorCode,
    firstByteAt: o.firstChunkAt,
  });
}

async function prepare(deps: GatewayDeps, call: ResponsesCall): Promise<Prepared> {
  const { req, auth } = call;
  const startedAt = deps.clock();
  // Tenant-scoped: another tenant's id, an expired one and an unknown one are the same 404.
  const history = await loadHistory(deps.store, auth.tenant.id, req.previous_response_id, startedAt);
  const chat = responsesToChat(req, history);
  const maxMessages = deps.config.file.server.max_messages;
  if (chat.messages.length > maxMessages) {
    throw new GatewayError('invalid_request', `Too many input items: ${chat.messages.length} messages (the limit is ${maxMessages}).`, { param: 'input' });
  }
  const promptTokens = estimatePromptTokens(chat, deps.config.catalog.exactCountFrom);
  const routePlan = plan(deps, auth, req.model, needsOf(chat, promptTokens), startedAt, 'chat');
  const input: ResponsesAttemptInput = {
    req,
    history,
    chat,
    id: newResponseId(),
    createdAt: Math.floor(startedAt.getTime() / 1000),
    auth,
    requestId: call.requestId,
    clientSignal: call.clientSignal,
  };
  return { startedAt, history, input, promptTokens, routePlan };
}

/**
 * Stores the final response (with its input and history) when the request asked for it (`store` defaults to true).
 * A store failure is logged, not thrown: the answer is already paid for, and only a later reference to it would fail.
 */
async function saveIfAsked(deps: GatewayDeps, call: ResponsesCall, p: Prepared, response: ResponseObject): Promise<void> {
  if (!shouldStore(call.req)) return;
  try {
    const now = deps.clock();
    await deps.store.saveResponse(
      toStored({ tenantId: call.auth.tenant.id, response, input: inputItems(call.req), history: p.history, now, retentionMs: defaultRetentionMs }),
    );
  } catch (e) {
    deps.logger.error({ requestId: call.requestId, err: e instanceof Error ? e.message : String(e) }, 'storing the response failed');
  }
}


function estimateOf(r: ResponseObject, promptTokens: number): TokenCounts {
  let out = 0;
  for (const item of r.output) {
    if (item.type === 'message') for (const c of item.content) out += Math.ceil((c.type === 'output_text' ? c.text : c.refusal).length / 4);
    else if (item.type === 'function_call') out += Math.ceil((item.name.length + item.arguments.length) / 4);
  }
  return { input: promptTokens, cachedInput: 0, output: out, reasoning: 0 };
}

function notFound(id: string): GatewayError {
  return new GatewayError('not_found', `Response with id '${id}' not found.`, { param: 'response_id' });
}

/** GET /v1/responses/:id — only the caller's tenant's, unexpired responses. */
export async function getStoredResponse(deps: GatewayDeps, auth: AuthInfo, id: string): Promise<ResponseObject> {
  const stored = await deps.store.getResponse(auth.tenant.id, id);
  if (!stored || stored.expiresAt.getTime() <= deps.clock().getTime()) throw notFound(id);
  return storedResponseObject(stored);
}

/** DELETE /v1/responses/:id — OpenAI's answer shape; another tenant's id is a 404 like an unknown one. */
export async function deleteStoredResponse(deps: GatewayDeps, auth: AuthInfo, id: string): Promise<{ id: string; object: 'response'; deleted: true }> {
  if (!(await deps.store.deleteResponse(auth.tenant.id, id))) throw notFound(id);
  return { id, object: 'response', deleted: true };
}
