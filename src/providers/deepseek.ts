// The DeepSeek adapter: OpenAI-compatible base plus reasoning-effort translation, cache-hit usage and 402 mapping.
import type { ChatRequest, Usage } from '../api/openai.js';
import { GatewayError } from '../errors.js';
import type { UpstreamHttp } from './http.js';
import { createOpenAICompatibleProvider, type JsonObject, type OpenAICompatibleProvider } from './openai-compatible.js';
import { reshape, withKey } from '../objects.js';

export interface DeepSeekProviderOptions {
  baseUrl: string;
  apiKey: string;
  http: UpstreamHttp;
}

type Effort = NonNullable<ChatRequest['reasoning_effort']>;

/** OpenAI's scale onto DeepSeek's low|high|max (PROVIDERS.md): one step up from medium, as DeepSeek has no medium. */
const effortMap: Record<Exclude<Effort, 'none'>, 'low' | 'high' | 'max'> = {
  minimal: 'low',
  low: 'low',
  medium: 'high',
  high: 'max',
  xhigh: 'max',
  max: 'max',
};

export function prepareDeepSeekChat(body: JsonObject, req: ChatRequest): JsonObject {
  if (req.response_format?.type === 'json_schema') {
    throw new GatewayError('unsupported_parameter', 'DeepSeek does not support response_format json_schema; use json_object or another model', {
      param: 'response_format',
    });
  }
  const effort = req.reasoning_effort;
  // DeepSeek documents max_tokens only; the newer OpenAI name is carried over to it (src/objects.ts: no delete).
  const out = reshape(body, effort === 'none' ? deepSeekFieldsNoEffort : deepSeekFields);
  if (effort === 'none') out.thinking = { type: 'disabled' };
  else if (effort != null) out.reasoning_effort = effortMap[effort];
  return out;
}

const deepSeekFields = new Map<string, string | null>([['max_completion_tokens', 'max_tokens']]);
const deepSeekFieldsNoEffort = new Map<string, string | null>([...deepSeekFields, ['reasoning_effort', null]]);

/** DeepSeek reports cache hits as prompt_cache_hit_tokens; expose them where OpenAI clients and the meter look. */
export function fixDeepSeekUsage<U extends Usage | null | undefined>(usage: U): U {
  if (!usage) return usage;
  const hit = usage.prompt_cache_hit_tokens;
  if (typeof hit === 'number' && usage.prompt_tokens_details?.cached_tokens == null) {
    return withKey(usage, 'prompt_tokens_details', withKey(usage.prompt_tokens_details, 'cached_tokens', hit));
  }
  return usage;
}

/**
 * A completion or chunk with its usage fixed; the object itself when the usage needed nothing (DeepSeek also sends
 * `prompt_tokens_details.cached_tokens`), so that the adapter passes the upstream's bytes through (src/gateway/sse.ts).
 */
function withFixedUsage<T extends { usage?: Usage | null }>(c: T): T {
  const usage = fixDeepSeekUsage(c.usage);
  return usage === c.usage ? c : { ...c, usage }; // usage is there: overwritten in place (src/objects.ts)
}

export function createDeepSeekProvider(options: DeepSeekProviderOptions): OpenAICompatibleProvider {
  return createOpenAICompatibleProvider({
    name: 'deepseek',
    baseUrl: options.baseUrl,
    apiKey: options.apiKey,
    http: options.http,
    hooks: {
      prepareChat: (body, req) => prepareDeepSeekChat(body, req),
      fixCompletion: withFixedUsage,
      fixChunk: withFixedUsage,
      statusCodes: { 402: { code: 'insufficient_quota', type: 'insufficient_quota' } },
    },
  });
}
