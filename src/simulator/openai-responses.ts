// The simulator's OpenAI `/v1/responses` endpoint: Responses → chat plan (the simulator's own generation) → Responses,
// stream and non-stream, with store / previous_response_id kept in memory, so the gateway's native OpenAI path is testable.
import type { ChatChunk, ChatRequest } from '../api/openai.js';
import { isGatewayError } from '../errors.js';
import { UpstreamError } from '../providers/types.js';
import { chatToResponse } from '../responses/from-chat.js';
import { newResponseId } from '../responses/ids.js';
import { parseResponsesRequest, shouldStore, type ResponseItem, type ResponsesRequest } from '../responses/schema.js';
import { buildHistory, storedResponseObject, toStored } from '../responses/state.js';
import { chatStreamToResponseEvents, formatSse } from '../responses/stream.js';
import { inputItems, responsesToChat } from '../responses/to-chat.js';
import type { ResponseContext, ResponseObject } from '../responses/types.js';
import { faultName } from './faults.js';
import { openaiErrorBody, sendJson, StreamWriter } from './http-out.js';
import { checkOpenAIKey, chooseFault } from './openai.js';
import { chunkEvents, completionBody, isOpenAIReasoningModel, messageText, prepareOpenAIChat, type PreparedChat } from './openai-chat.js';
import { applyFault, type Route, type RouteContext, type SimState } from './server.js';
import type { Fault, SimRecord } from './types.js';
import { sleep } from './util.js';

const HEADERS = { 'openai-processing-ms': '1', 'x-ratelimit-limit-requests': '10000', 'x-ratelimit-remaining-requests': '9999' };

const MAX_STORED = 10_000;

/** Stored responses per simulator instance, keyed by `apiKey\0id` (OpenAI scopes them to the project); oldest dropped first. */
const stores = new WeakMap<SimState, Map<string, { body: unknown }>>();
function storeOf(state: SimState): Map<string, { body: unknown }> {
  let s = stores.get(state);
  if (!s) stores.set(state, (s = new Map()));
  return s;
}
function remember(state: SimState, key: string, value: { body: unknown }): void {
  const s = storeOf(state);
  s.set(key, value);
  if (s.size > MAX_STORED) {
    const oldest = s.keys().next();
    if (!oldest.done) s.delete(oldest.value);
  }
}

type RecordBase = Omit<SimRecord, 'at' | 'status' | 'aborted' | 'completionTokens' | 'reasoningTokens'>;

function parseBody(ctx: RouteContext): ResponsesRequest | null {
  try {
    return parseResponsesRequest(JSON.parse(ctx.body.toString('utf8')));
  } catch (e) {
    if (isGatewayError(e)) sendJson(ctx.res, 400, e.toBody());
    else sendJson(ctx.res, 400, openaiErrorBody('We could not parse the JSON body of your request.', 'invalid_request_error', null));
    return null;
  }
}

/** The conversation so far, or null after answering OpenAI's error for an unknown previous_response_id. */
function historyOf(ctx: RouteContext, key: string, req: ResponsesRequest): ResponseItem[] | null {
  if (!req.previous_response_id) return [];
  const stored = storeOf(ctx.state).get(`${key}\u0000${req.previous_response_id}`);
  if (stored) return buildHistory(stored);
  // OpenAI answers 400 here (the gateway answers 404 for its own store, per issue 11).
  const msg = `Previous response with id '${req.previous_response_id}' not found.`;
  sendJson(ctx.res, 400, openaiErrorBody(msg, 'invalid_request_error', 'previous_response_not_found', 'previous_response_id'));
  return null;
}

function toChat(ctx: RouteContext, req: ResponsesRequest, history: ResponseItem[]): ChatRequest | null {
  try {
    return responsesToChat(req, history);
  } catch (e) {
    if (!isGatewayError(e)) throw e;
    sendJson(ctx.res, e.status, e.toBody());
    return null;
  }
}

async function handleCreate(ctx: RouteContext): Promise<void> {
  const { state, res } = ctx;
  const key = checkOpenAIKey(ctx, 'openai');
  if (key === null) return;
  const req = parseBody(ctx);
  if (!req) return;
  if (!state.settings.acceptAnyModel && state.models.find('openai', req.model)?.kind !== 'chat') {
    const msg = `The model \`${req.model}\` does not exist or you do not have access to it.`;
    return sendJson(res, 404, openaiErrorBody(msg, 'invalid_request_error', 'model_not_found', 'model'));
  }
  const history = historyOf(ctx, key, req);
  if (!history) return;
  const chat = toChat(ctx, req, history);
  if (!chat) return;
  const last = chat.messages[chat.messages.length - 1];
  const fault = chooseFault(ctx, 'openai', req.model, last?.role === 'user' ? messageText(last.content) : '');
  const id = newResponseId();
  const base = { id, provider: 'openai' as const, endpoint: 'responses' as const, model: req.model, stream: req.stream === true };
  if ((await applyFault(ctx, fault, 'openai', { ...base, promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 })) === 'handled') return;

  const prepared = prepareOpenAIChat(state, 'openai', chat, key);
  // OpenAI shows reasoning summaries of reasoning models only when asked for (`reasoning.summary`).
  const shown: PreparedChat = { ...prepared, visibleReasoning: isOpenAIReasoningModel(req.model) && Boolean(req.reasoning?.summary) };
  await sleep(state.settings.latencyMs);
  const rctx: ResponseContext = { id, createdAt: Math.floor(Date.now() / 1000), req, model: req.model };
  const recordBase: RecordBase = { ...base, promptTokens: prepared.promptTokens, cachedTokens: prepared.cachedTokens, fault: fault ? faultName(fault) : null };
  const save = (response: ResponseObject): void => {
    if (shouldStore(req)) remember(state, `${key}\u0000${id}`, toStored({ tenantId: key, response, input: inputItems(req), history }));
  };
  if (req.stream && !res.destroyed) return streamResponse(ctx, shown, rctx, fault, recordBase, save);
  // The client left during the latency: nothing was sent (as the chat endpoints record it).
  if (res.destroyed) {
    state.record({ ...recordBase, status: 0, completionTokens: 0, reasoningTokens: 0, aborted: true });
    return;
  }
  if (fault?.type === 'error_event') {
    sendJson(res, 500, openaiErrorBody('The server had an error while processing your request (simulated).', 'server_error', null));
    state.record({ ...recordBase, status: 500, completionTokens: 0, reasoningTokens: 0, aborted: false });
    return;
  }
  const response = chatToResponse(completionBody(shown, `chatcmpl-${id}`, rctx.createdAt), rctx);
  save(response);
  sendJson(res, 200, response, { ...HEADERS, 'x-request-id': `req_${id.slice(5, 37)}` });
  state.record({ ...recordBase, status: 200, completionTokens: prepared.completionTokens, reasoningTokens: prepared.plan.reasoningTokens, aborted: false });
}

async function streamResponse(
  ctx: RouteContext,
  prepared: PreparedChat,
  rctx: ResponseContext,
  fault: Fault | null,
  recordBase: RecordBase,
  save: (r: ResponseObject) => void,
): Promise<void> {
  const { state } = ctx;
  const events = chunkEvents(prepared, `chatcmpl-${rctx.id}`, rctx.createdAt, true);
  const w = new StreamWriter(ctx.res, 0);
  const tally = { completion: 0, reasoning: 0, cut: false, gone: false };
  async function* chunks(): AsyncGenerator<ChatChunk> {
    await sleep(state.settings.ttftMs);
    for (let i = 0; i < events.length; i++) {
      if (i > 0) await sleep(state.settings.chunkDelayMs);
      if (fault?.type === 'cut' && i >= fault.afterChunks) {
        tally.cut = true;
        return;
      }
      if (fault?.type === 'error_event' && i >= fault.afterChunks) {
        throw new UpstreamError({ provider: 'openai', kind: 'stream', message: 'The server had an error while processing your request (simulated).' });
      }
      const e = events[i];
      if (!e) return;
      tally.completion += e.tokens;
      tally.reasoning += e.reasoning;
      yield JSON.parse(e.data) as ChatChunk;
    }
  }
  w.start({ ...HEADERS, 'x-request-id': `req_${rctx.id.slice(5, 37)}` });
  for await (const event of chatStreamToResponseEvents(chunks(), rctx)) {
    if (tally.cut) break;
    if (event.type === 'response.completed' || event.type === 'response.incomplete' || event.type === 'response.failed') save(event.response);
    if (!(await w.raw(formatSse(event)))) {
      tally.gone = true;
      break;
    }
  }
  if (tally.cut) w.destroy();
  else w.end();
  state.record({ ...recordBase, status: 200, completionTokens: tally.completion, reasoningTokens: tally.reasoning, aborted: tally.gone });
}

function handleGet(ctx: RouteContext): void {
  const key = checkOpenAIKey(ctx, 'openai');
  if (key === null) return;
  const id = ctx.params[0] ?? '';
  const stored = storeOf(ctx.state).get(`${key}\u0000${id}`);
  if (!stored) return notFound(ctx, id);
  sendJson(ctx.res, 200, storedResponseObject(stored));
}

function handleDelete(ctx: RouteContext): void {
  const key = checkOpenAIKey(ctx, 'openai');
  if (key === null) return;
  const id = ctx.params[0] ?? '';
  const store = storeOf(ctx.state);
  if (!store.get(`${key}\u0000${id}`)) return notFound(ctx, id);
  store.delete(`${key}\u0000${id}`);
  sendJson(ctx.res, 200, { id, object: 'response.deleted', deleted: true });
}

function notFound(ctx: RouteContext, id: string): void {
  sendJson(ctx.res, 404, openaiErrorBody(`Response with id '${id}' not found.`, 'invalid_request_error', null, null));
}

export const openaiResponsesRoutes: Route[] = [
  { method: 'POST', path: /^\/openai\/v1\/responses$/, handler: handleCreate },
  { method: 'GET', path: /^\/openai\/v1\/responses\/([^/]+)$/, handler: handleGet },
  { method: 'DELETE', path: /^\/openai\/v1\/responses\/([^/]+)$/, handler: handleDelete },
];
