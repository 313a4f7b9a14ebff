// The OpenAI adapter: the OpenAI-compatible base plus a native pass-through of the Responses API.
import { createHash } from 'node:crypto';
import type { UpstreamHttp } from './http.js';
import { createOpenAICompatibleProvider, type JsonObject, type OpenAICompatibleProvider } from './openai-compatible.js';
import type { CallContext, Provider } from './types.js';
import { remembered } from '../bounded-map.js';
import { reshape } from '../objects.js';

export interface OpenAIProviderOptions {
  baseUrl: string;
  apiKey: string;
  http: UpstreamHttp;
}

export interface RawUpstreamResponse {
  status: number;
  headers: Record<string, string>;
  body: ReadableStream<Uint8Array>;
}

export interface OpenAIProvider extends OpenAICompatibleProvider {
  /** POSTs a Responses API body to {base}/responses (model replaced by ctx.upstreamModel) and hands back the answer untouched, whatever its status. */
  responsesRaw(body: unknown, ctx: CallContext): Promise<RawUpstreamResponse>;
}

/** True for the OpenAI adapter (the only one that can pass the Responses API through natively). */
export function hasResponsesRaw(p: Provider | undefined): p is OpenAIProvider {
  return p !== undefined && typeof (p as Partial<OpenAIProvider>).responsesRaw === 'function';
}

/** A per-tenant prompt cache key improves OpenAI cache hits; hashed so that the tenant id never leaves the gateway. */
export function tenantCacheKey(tenantId: string): string {
  // Remembered per tenant: a sha256 per request showed in a timeline of the request path (bench, 2026-12-06).
  return remembered(tenantCacheKeys, tenantId, 10_000, hashTenant);
}
const tenantCacheKeys = new Map<string, string>();
const hashTenant = (tenantId: string) => `tg-${createHash('sha256').update(tenantId).digest('base64url').slice(0, 22)}`;

/**
 * Normalises a request that may have been written for another provider: `max_tokens` becomes
 * `max_completion_tokens` (the only one reasoning models accept, and equivalent elsewhere); DeepSeek's `thinking`
 * switch and `reasoning_content` in history are not OpenAI fields (OpenAI rejects unknown top-level fields).
 */
export function prepareOpenAIChat(body: JsonObject): JsonObject {
  const out = reshape(body, openAIFields);
  const messages = out.messages;
  if (Array.isArray(messages) && messages.some(hasReasoning)) {
    out.messages = messages.map((m: unknown) => {
      if (!hasReasoning(m)) return m;
      const { reasoning_content: _drop, ...rest } = m;
      return rest;
    });
  }
  return out;
}

const openAIFields = new Map<string, string | null>([
  ['max_tokens', 'max_completion_tokens'],
  ['thinking', null],
]);
const hasReasoning = (m: unknown): m is JsonObject => !!m && typeof m === 'object' && 'reasoning_content' in m;

export function createOpenAIProvider(options: OpenAIProviderOptions): OpenAIProvider {
  const base = createOpenAICompatibleProvider({
    name: 'openai',
    baseUrl: options.baseUrl,
    apiKey: options.apiKey,
    http: options.http,
    hooks: {
      prepareChat(body, _req, ctx) {
        if (ctx.tenantId && body.prompt_cache_key == null) body.prompt_cache_key = tenantCacheKey(ctx.tenantId);
        return prepareOpenAIChat(body);
      },
    },
  });

  async function responsesRaw(body: unknown, ctx: CallContext): Promise<RawUpstreamResponse> {
    const obj: JsonObject = body && typeof body === 'object' && !Array.isArray(body) ? { ...(body as JsonObject) } : {};
    obj.model = ctx.upstreamModel;
    const res = await base.post('/responses', obj, ctx, { stream: obj.stream === true, raw: true });
    return { status: res.status, headers: res.headers, body: res.toWeb() };
  }

  return { ...base, responsesRaw };
}
