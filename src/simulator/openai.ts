// OpenAI and DeepSeek endpoints: auth, validation, faults, then the chat answer as JSON or as an SSE stream; models lists.
import { chatRequestSchema, type ChatRequest } from '../api/openai.js';
import { faultFromText, parseFaultSpec, faultName } from './faults.js';
import { authErrorBody, dropConnection, openaiErrorBody, sendJson, StreamWriter } from './http-out.js';
import { chunkEvents, completionBody, isOpenAIReasoningModel, messageText, prepareOpenAIChat, type OpenAIFlavor, type PreparedChat } from './openai-chat.js';
import { applyFault, type Route, type RouteContext } from './server.js';
import type { Fault, SimRecord } from './types.js';
import { sleep } from './util.js';

/** Static rate-limit headers: clients and the gateway read them, their values do not matter. */
const OPENAI_HEADERS = {
  'openai-processing-ms': '1',
  'x-ratelimit-limit-requests': '10000',
  'x-ratelimit-remaining-requests': '9999',
  'x-ratelimit-reset-requests': '6ms',
  'x-ratelimit-limit-tokens': '10000000',
  'x-ratelimit-remaining-tokens': '9999000',
  'x-ratelimit-reset-tokens': '6ms',
};

export function bearerKey(ctx: RouteContext): string | null {
  const h = ctx.req.headers.authorization;
  return h && h.startsWith('Bearer ') ? h.slice(7).trim() : null;
}

/** Checks the key; answers the provider's auth error and returns null when it is wrong. */
export function checkOpenAIKey(ctx: RouteContext, flavor: OpenAIFlavor): string | null {
  const key = bearerKey(ctx);
  if (key === ctx.state.settings.keys[flavor]) return key;
  const { status, body } = authErrorBody(flavor);
  sendJson(ctx.res, status, body);
  return null;
}

/** Parses and validates the JSON body as OpenAI does; answers a 400 and returns null when it is bad. */
export function parseChatBody(ctx: RouteContext): ChatRequest | null {
  let raw: unknown;
  try {
    raw = JSON.parse(ctx.body.toString('utf8'));
  } catch {
    sendJson(ctx.res, 400, openaiErrorBody('We could not parse the JSON body of your request. (HINT: This likely means you aren\'t using your HTTP library correctly.)', 'invalid_request_error', null));
    return null;
  }
  const parsed = chatRequestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = issue.path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
    sendJson(ctx.res, 400, openaiErrorBody(`Invalid value for '${param}': ${issue.message}`, 'invalid_request_error', issue.code === 'invalid_type' ? 'invalid_type' : 'invalid_value', param || null));
    return null;
  }
  // The body as received (not zod's copy) is what prompt tokens are counted on.
  return raw as ChatRequest;
}

/** The fault for this request: a rule first, then the `x-sim-fault` header, then a marker in the last user message. */
export function chooseFault(ctx: RouteContext, provider: SimRecord['provider'], model: string, lastUserText: string): Fault | null {
  const header = ctx.req.headers['x-sim-fault'];
  return ctx.state.faults.take(provider, model) ?? (typeof header === 'string' ? parseFaultSpec(header) : null) ?? faultFromText(lastUserText);
}

function unsupported(flavor: OpenAIFlavor, body: ChatRequest): { message: string; param: string } | null {
  if (flavor === 'deepseek') {
    if (body.response_format?.type === 'json_schema') return { message: 'This response_format type is unavailable now', param: 'response_format' };
    const image = body.messages.some((m) => Array.isArray(m.content) && m.content.some((p) => p.type === 'image_url'));
    if (image) return { message: 'unknown variant `image_url`, expected `text`', param: 'messages' };
  } else if (body.stream_options != null && body.stream !== true) {
    return { message: "The 'stream_options' parameter is only allowed when 'stream' is enabled.", param: 'stream_options' };
  } else if (isOpenAIReasoningModel(body.model) && body.max_tokens != null) {
    return { message: "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.", param: 'max_tokens' };
  }
  return null;
}

async function handleChat(ctx: RouteContext, flavor: OpenAIFlavor): Promise<void> {
  const { state, res } = ctx;
  const key = checkOpenAIKey(ctx, flavor);
  if (key === null) return;
  const body = parseChatBody(ctx);
  if (!body) return;
  const entry = state.models.find(flavor, body.model);
  if (!state.settings.acceptAnyModel && entry?.kind !== 'chat') {
    const msg = `The model \`${body.model}\` does not exist or you do not have access to it.`;
    return sendJson(res, 404, openaiErrorBody(msg, 'invalid_request_error', 'model_not_found', 'model'));
  }
  const bad = unsupported(flavor, body);
  if (bad) return sendJson(res, 400, openaiErrorBody(bad.message, 'invalid_request_error', 'unsupported_parameter', bad.param));

  const lastUser = [...body.messages].reverse().find((m) => m.role === 'user');
  const fault = chooseFault(ctx, flavor, body.model, lastUser ? messageText(lastUser.content) : '');
  const stream = body.stream === true;
  const base = { id: state.nextId(flavor === 'openai' ? 'chatcmpl-' : 'ds-'), provider: flavor, endpoint: 'chat' as const, model: body.model, stream };
  if ((await applyFault(ctx, fault, flavor, { ...base, promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 })) === 'handled') return;

  const prepared = prepareOpenAIChat(state, flavor, body, key);
  await sleep(state.settings.latencyMs);
  const recordBase = { ...base, promptTokens: prepared.promptTokens, cachedTokens: prepared.cachedTokens, fault: fault ? faultName(fault) : null };
  const headers: Record<string, string> = flavor === 'openai' ? { ...OPENAI_HEADERS, 'x-request-id': `req_${base.id}` } : {};
  if (stream && !res.destroyed) return streamChat(ctx, prepared, fault, base.id, headers, recordBase, body.stream_options?.include_usage === true);
  // The client left during the latency: nothing was sent.
  if (res.destroyed) {
    state.record({ ...recordBase, status: 0, completionTokens: 0, reasoningTokens: 0, aborted: true });
    return;
  }
  if (fault?.type === 'error_event') {
    sendJson(res, 500, openaiErrorBody('The server had an error while processing your request (simulated).', 'server_error', null));
    state.record({ ...recordBase, status: 500, completionTokens: 0, reasoningTokens: 0, aborted: false });
    return;
  }
  const json = JSON.stringify(completionBody(prepared, base.id, Math.floor(Date.now() / 1000)));
  // DeepSeek sends blank lines while it works on a non-stream answer; parsers must skip them.
  const text = flavor === 'deepseek' ? `\n\n${json}` : json;
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  if (fault?.type === 'cut') {
    res.write(text.slice(0, Math.floor(text.length / 2)));
    dropConnection(res);
  } else {
    res.end(text);
  }
  const done = { completionTokens: prepared.completionTokens, reasoningTokens: prepared.reasoningTokens };
  state.record({ ...recordBase, ...done, status: 200, aborted: false });
}

async function streamChat(
  ctx: RouteContext,
  prepared: PreparedChat,
  fault: Fault | null,
  id: string,
  headers: Record<string, string>,
  recordBase: Omit<SimRecord, 'at' | 'status' | 'aborted' | 'completionTokens' | 'reasoningTokens'>,
  includeUsage: boolean,
): Promise<void> {
  const { state } = ctx;
  const deepseek = prepared.flavor === 'deepseek';
  const events = chunkEvents(prepared, id, Math.floor(Date.now() / 1000), includeUsage);
  const w = new StreamWriter(ctx.res, state.settings.chunkDelayMs);
  w.start(headers);
  let completion = 0;
  let reasoning = 0;
  let ended: 'done' | 'cut' | 'error' | 'gone' = 'done';
  if (deepseek) await w.raw(': keep-alive\n\n');
  await sleep(state.settings.ttftMs);
  for (let i = 0; i < events.length; i++) {
    if (fault?.type === 'cut' && w.chunks >= fault.afterChunks) {
      ended = 'cut';
      break;
    }
    if (fault?.type === 'error_event' && w.chunks >= fault.afterChunks) {
      const err = openaiErrorBody('The server had an error while processing your request (simulated).', 'server_error', 'server_error');
      await w.event(JSON.stringify(err));
      ended = 'error';
      break;
    }
    if (deepseek && i > 0 && i % 8 === 0 && !(await w.raw(': keep-alive\n\n'))) {
      ended = 'gone';
      break;
    }
    if (!(await w.event(events[i].data))) {
      ended = 'gone';
      break;
    }
    completion += events[i].tokens;
    reasoning += events[i].reasoning;
  }
  if (ended === 'done') await w.raw('data: [DONE]\n\n');
  if (ended === 'cut') w.destroy();
  else w.end();
  const aborted = ended === 'gone' || (ended === 'done' && w.clientGone);
  state.record({ ...recordBase, status: 200, completionTokens: completion, reasoningTokens: reasoning, aborted });
}

function listModels(ctx: RouteContext, flavor: OpenAIFlavor): void {
  if (checkOpenAIKey(ctx, flavor) === null) return;
  const data = ctx.state.models.list(flavor).map((m) => ({ id: m.upstream_id ?? m.id, object: 'model', created: 1_700_000_000, owned_by: flavor === 'openai' ? 'system' : 'deepseek' }));
  sendJson(ctx.res, 200, { object: 'list', data });
}

export const openaiChatRoutes: Route[] = [
  { method: 'POST', path: /^\/openai\/v1\/chat\/completions$/, handler: (ctx) => handleChat(ctx, 'openai') },
  { method: 'GET', path: /^\/openai\/v1\/models$/, handler: (ctx) => listModels(ctx, 'openai') },
  { method: 'POST', path: /^\/deepseek(?:\/v1)?\/chat\/completions$/, handler: (ctx) => handleChat(ctx, 'deepseek') },
  { method: 'GET', path: /^\/deepseek(?:\/v1)?\/models$/, handler: (ctx) => listModels(ctx, 'deepseek') },
];
