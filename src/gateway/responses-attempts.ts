// Calls the candidates of a Responses API request in order, falling back before the first byte: natively on OpenAI
// (upstream /responses, gateway-held state), translated through Chat Completions on DeepSeek and Gemini.
import type { ChatChunk, ChatRequest } from '../api/openai.js';
import type { AttemptSignal, ClientSignal } from './upstream-signal.js';
import { withFallback } from './fallback.js';
import type { Attempt } from '../metering/ledger-event.js';
import { hasResponsesRaw, type RawUpstreamResponse } from '../providers/openai.js';
import { UpstreamError, type CallContext, type Provider } from '../providers/types.js';
import { upstreamErrorFromHttp } from '../providers/upstream-errors.js';
import { chatToResponse, chatStreamToResponseEvents, passthroughBody, restoreEcho, type ResponseItem, type ResponsesRequest } from '../responses/index.js';
import type { ResponseContext, ResponseObject, ResponseStreamEvent } from '../responses/types.js';
import type { Candidate } from '../routing/router.js';
import type { AuthInfo } from '../http/context.js';
import type { Admitted } from './admission.js';
import type { GatewayDeps } from './deps.js';
import { nativeEvents } from './responses-events.js';

export interface ResponsesAttemptInput {
  req: ResponsesRequest;
  /** Items of earlier turns (previous_response_id), for the native body. */
  history: readonly ResponseItem[];
  /** The same request translated to Chat Completions (history included), for DeepSeek and Gemini. */
  chat: ChatRequest;
  /** Id and creation time of the Response the gateway builds itself (translated path). */
  id: string;
  createdAt: number;
  auth: AuthInfo;
  requestId: string;
  clientSignal: ClientSignal;
}

/** One answer, before it is turned into an HTTP response. `native`: passed through from OpenAI's /responses. */
export type ServedResponse = (
  | { kind: 'json'; response: ResponseObject }
  | { kind: 'stream'; first: ResponseStreamEvent; rest: AsyncIterator<ResponseStreamEvent>; abort: () => void }
) & { candidate: Candidate; rank: number; native: boolean };


/** Same fallback rules as chat (src/gateway/fallback.ts): only retryable failures before the first byte move on. */
export function callResponsesWithFallback(deps: GatewayDeps, input: ResponsesAttemptInput, admitted: Admitted, attempts: Attempt[]): Promise<ServedResponse> {
  const fallbackInput = { admitted, attempts, clientSignal: input.clientSignal, requestId: input.requestId, tenantId: input.auth.tenant.id };
  return withFallback<ServedResponse>(deps, fallbackInput, ({ provider, cand, ctx, signal, rank }) => callOne(provider, input, cand, rank, ctx, signal));
}

async function callOne(provider: Provider, input: ResponsesAttemptInput, cand: Candidate, rank: number, ctx: CallContext, ac: AttemptSignal): Promise<ServedResponse> {
  const rctx: ResponseContext = { id: input.id, createdAt: input.createdAt, req: input.req, model: cand.model.id };
  if (hasResponsesRaw(provider)) {
    const raw = await provider.responsesRaw(passthroughBody(input.req, input.history, ctx.upstreamModel), ctx);
    if (raw.status < 200 || raw.status >= 300) throw await httpError(raw);
    if (input.req.stream) {
      const rest = nativeEvents(raw.body, rctx);
      // Pull the first event before committing: a failure until here can still fall back.
      const first = await rest.next();
      if (first.done) throw invalid('The upstream stream ended before any data.');
      return { kind: 'stream', first: first.value, rest, abort: ac.abort, native: true, candidate: cand, rank };
    }
    const response = await readNativeJson(raw);
    ac.release(); // the exchange is complete
    return { kind: 'json', response: restoreEcho(response as unknown as Record<string, unknown>, input.req) as unknown as ResponseObject, native: true, candidate: cand, rank };
  }
  if (input.req.stream) {
    const chunks = await provider.chatStream(input.chat, ctx);
    const it = chunks[Symbol.asyncIterator]();
    const firstChunk = await it.next();
    if (firstChunk.done) throw invalid('The upstream stream ended before any data.');
    const events = chatStreamToResponseEvents(prepend(firstChunk.value, it), rctx);
    const first = await events.next();
    if (first.done) throw invalid('The translated stream produced no event.');
    return { kind: 'stream', first: first.value, rest: events, abort: ac.abort, native: false, candidate: cand, rank };
  }
  const completion = await provider.chat(input.chat, ctx);
  ac.release();
  return { kind: 'json', response: chatToResponse(completion, rctx), native: false, candidate: cand, rank };
}

/** The first chunk (already pulled to decide on fallback) followed by the rest; closing it closes the upstream. */
async function* prepend(first: ChatChunk, rest: AsyncIterator<ChatChunk>): AsyncGenerator<ChatChunk> {
  try {
    yield first;
    for (;;) {
      const r = await rest.next();
      if (r.done) return;
      yield r.value;
    }
  } finally {
    await rest.return?.();
  }
}

function invalid(message: string): UpstreamError {
  return new UpstreamError({ provider: 'openai', kind: 'invalid_response', message });
}

async function readText(body: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(body).text();
}

async function httpError(raw: RawUpstreamResponse): Promise<UpstreamError> {
  const bodyText = await readText(raw.body).catch(() => '');
  // The adapter already holds the key; the gateway's redactor cleans the message again before a client sees it.
  return upstreamErrorFromHttp({ provider: 'openai', status: raw.status, headers: raw.headers, bodyText, apiKey: '' });
}

async function readNativeJson(raw: RawUpstreamResponse): Promise<ResponseObject> {
  let text: string;
  try {
    text = await readText(raw.body);
  } catch (e) {
    throw e instanceof UpstreamError ? e : new UpstreamError({ provider: 'openai', kind: 'reset', message: 'openai: the response body was cut.', cause: e });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid(`openai: invalid upstream answer: not JSON (${text.slice(0, 120)})`);
  }
  if (!parsed || typeof parsed !== 'object' || (parsed as { object?: unknown }).object !== 'response') throw invalid('openai: invalid upstream answer: not a Response object');
  return parsed as ResponseObject;
}
