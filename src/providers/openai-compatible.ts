// The OpenAI-compatible adapter base: Chat Completions and Embeddings over streamed HTTP, with hooks for provider quirks.
import { createHash } from 'node:crypto';
import type { ChatChunk, ChatCompletion, ChatRequest, EmbeddingRequest, EmbeddingResponse } from '../api/openai.js';
import { countEmbeddingInputTokens } from '../metering/tokens.js';
import type { UpstreamHttp, UpstreamResponse } from './http.js';
import type { CallContext, ChatStream, EmbeddingResult, Provider, ProviderName } from './types.js';
import { chunkText, completionText, UpstreamError } from './types.js';
import { invalidResponse, tryParseJson, upstreamErrorFromHttp, upstreamErrorFromStreamEvent } from './upstream-errors.js';
import { copyWithout, withKey } from '../objects.js';

export type JsonObject = Record<string, unknown>;

/** Set again by chatBody() for a stream, left out otherwise. */
const streamFields = new Set(['stream', 'stream_options']);

export interface OpenAICompatibleHooks {
  /** Adjust the upstream body (model and stream fields already set). May throw GatewayError for a request it cannot serve. */
  prepareChat?(body: JsonObject, req: ChatRequest, ctx: CallContext): JsonObject;
  /** Returns a new object when it changes anything (as fixChunk). */
  fixCompletion?(completion: ChatCompletion): ChatCompletion;
  /** Returns a new object when it changes anything (the chunk's upstream text is passed through when it is the same). */
  fixChunk?(chunk: ChatChunk): ChatChunk;
  /** Per-status code/type overrides for error answers (e.g. DeepSeek 402 → insufficient_quota). */
  statusCodes?: Partial<Record<number, { code: string; type: string }>>;
}

export interface OpenAICompatibleOptions {
  name: ProviderName;
  /** e.g. https://api.openai.com/v1 (paths are appended: /chat/completions, /embeddings). */
  baseUrl: string;
  apiKey: string;
  http: UpstreamHttp;
  hooks?: OpenAICompatibleHooks;
}

export interface OpenAICompatibleProvider extends Provider {
  /** POSTs a JSON body to {base}{path}; throws UpstreamError for network failures and non-2xx answers unless `raw`. */
  post(path: string, body: JsonObject, ctx: CallContext, opts: { stream: boolean; raw?: boolean }): Promise<UpstreamResponse>;
}

/** OpenAI refuses tool call ids longer than 40 characters (`string_above_max_length`). */
export const MAX_TOOL_CALL_ID = 40;

/** A long id (e.g. a Gemini id carrying a thought signature) → a short one, the same for the same input. */
export function shortToolCallId(id: string): string {
  if (id.length <= MAX_TOOL_CALL_ID) return id;
  return `call_${createHash('sha256').update(id).digest('base64url').slice(0, MAX_TOOL_CALL_ID - 5)}`;
}

/**
 * Shortens over-long tool call ids in history, in the assistant calls and the tool results alike, so that a
 * conversation begun on another provider can continue here; stateless, since the mapping is a pure function.
 */
export function shortenToolCallIds(messages: unknown): unknown {
  if (!Array.isArray(messages)) return messages;
  const tooLong = (v: unknown): v is string => typeof v === 'string' && v.length > MAX_TOOL_CALL_ID;
  const long = (m: unknown): boolean => {
    if (!m || typeof m !== 'object') return false;
    const msg = m as JsonObject;
    return tooLong(msg.tool_call_id) || (Array.isArray(msg.tool_calls) && msg.tool_calls.some((c: unknown) => tooLong((c as JsonObject | null)?.id)));
  };
  if (!messages.some(long)) return messages; // the usual case: the client's array as it is
  return messages.map((m: unknown) => {
    if (!long(m)) return m;
    const msg = m as JsonObject;
    if (tooLong(msg.tool_call_id)) return { ...msg, tool_call_id: shortToolCallId(msg.tool_call_id) };
    const shortened = (msg.tool_calls as unknown[]).map((c: unknown) => {
      const id = (c as JsonObject).id;
      return tooLong(id) ? { ...(c as JsonObject), id: shortToolCallId(id) } : c;
    });
    return { ...msg, tool_calls: shortened };
  });
}

export function joinUrl(base: string, path: string): string {
  return base.replace(/\/+$/, '') + path;
}

export function createOpenAICompatibleProvider(options: OpenAICompatibleOptions): OpenAICompatibleProvider {
  const { name, apiKey, http } = options;
  const hooks = options.hooks ?? {};

  async function post(path: string, body: JsonObject, ctx: CallContext, opts: { stream: boolean; raw?: boolean }) {
    const res = await http.request({
      provider: name,
      url: joinUrl(options.baseUrl, path),
      headers: {
        authorization: `Bearer ${apiKey}`,
        'content-type': 'application/json',
        accept: opts.stream ? 'text/event-stream' : 'application/json',
      },
      body: JSON.stringify(body),
      signal: ctx.signal,
      abort: ctx.abort,
      wholeAnswerDeadline: !opts.stream,
    });
    if (opts.raw || (res.status >= 200 && res.status < 300)) return res;
    const bodyText = await res.text().catch(() => '');
    throw upstreamErrorFromHttp({ provider: name, status: res.status, headers: res.headers, bodyText, apiKey, statusCodes: hooks.statusCodes });
  }

  function chatBody(req: ChatRequest, ctx: CallContext, stream: boolean): JsonObject {
    // Field by field into a new object (src/objects.ts: no spread clone extended, no delete).
    const body = copyWithout(req, streamFields);
    body.model = ctx.upstreamModel;
    body.messages = shortenToolCallIds(req.messages);
    if (stream) {
      body.stream = true;
      // The gateway always needs usage; whether the client sees the usage chunk is decided downstream.
      body.stream_options = withKey(req.stream_options, 'include_usage', true);
    }
    return hooks.prepareChat ? hooks.prepareChat(body, req, ctx) : body;
  }

  async function readJsonText(res: UpstreamResponse): Promise<{ parsed: unknown; text: string }> {
    const text = await res.text();
    // Leading blank lines (DeepSeek keep-alive while busy) are JSON whitespace, so JSON.parse accepts them.
    const parsed = tryParseJson(text);
    if (parsed === undefined) throw invalidResponse(name, `not JSON (${text.slice(0, 120)})`);
    return { parsed, text };
  }

  async function readJson(res: UpstreamResponse): Promise<unknown> {
    return (await readJsonText(res)).parsed;
  }

  async function chat(req: ChatRequest, ctx: CallContext): Promise<ChatCompletion> {
    const res = await post('/chat/completions', chatBody(req, ctx, false), ctx, { stream: false });
    const { parsed, text } = await readJsonText(res);
    if (!parsed || typeof parsed !== 'object' || !Array.isArray((parsed as JsonObject).choices)) {
      if (parsed && typeof parsed === 'object' && 'error' in parsed) throw upstreamErrorFromStreamEvent(name, parsed, apiKey);
      throw invalidResponse(name, 'no choices in chat completion');
    }
    const completion = parsed as ChatCompletion;
    const fixed = hooks.fixCompletion ? hooks.fixCompletion(completion) : completion;
    if (fixed === completion) completionText.set(completion, text.charCodeAt(0) === 123 ? text : text.trimStart());
    return fixed;
  }

  /** One SSE payload → a chunk, or null for the end marker; throws for error events and garbage. */
  function chunkOf(data: string): ChatChunk | null {
    if (data === '[DONE]') return null;
    const event = tryParseJson(data);
    if (!event || typeof event !== 'object') throw invalidResponse(name, `unparseable stream event (${data.slice(0, 120)})`);
    if ('error' in event && (event as JsonObject).error) throw upstreamErrorFromStreamEvent(name, event, apiKey);
    const chunk = event as ChatChunk;
    const fixed = hooks.fixChunk ? hooks.fixChunk(chunk) : chunk;
    if (fixed === chunk) chunkText.set(chunk, data);
    return fixed;
  }

  /** Chunks parsed as the bytes arrive (see UpstreamResponse.events); a stream must end with [DONE]. */
  function streamChunks(res: UpstreamResponse): ChatStream {
    return res.events(chunkOf, () => new UpstreamError({ provider: name, kind: 'stream', message: `${name}: stream ended before [DONE]` }));
  }

  async function chatStream(req: ChatRequest, ctx: CallContext): Promise<ChatStream> {
    const res = await post('/chat/completions', chatBody(req, ctx, true), ctx, { stream: true });
    return streamChunks(res);
  }

  async function embed(req: EmbeddingRequest, ctx: CallContext): Promise<EmbeddingResult> {
    const res = await post('/embeddings', { ...req, model: ctx.upstreamModel }, ctx, { stream: false });
    const parsed = await readJson(res);
    if (!parsed || typeof parsed !== 'object' || !Array.isArray((parsed as JsonObject).data)) {
      throw invalidResponse(name, 'no data in embeddings answer');
    }
    const response = parsed as EmbeddingResponse;
    const u = response.usage as EmbeddingResponse['usage'] | undefined;
    if (u && typeof u.prompt_tokens === 'number') return { response, usageSource: 'reported' };
    const n = countEmbeddingInputTokens(req.input);
    return { response: { ...response, usage: { prompt_tokens: n, total_tokens: n } }, usageSource: 'estimated' };
  }

  return { name, chat, chatStream, embed, post };
}
