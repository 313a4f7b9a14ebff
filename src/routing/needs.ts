// What a chat request needs from a model (capabilities, context, output), read once from the body for the router.
import type { ChatRequest } from '../api/openai.js';

export interface RequestNeeds {
  /** The request defines tools (a model without tool calling cannot serve it). */
  tools: boolean;
  /** response_format json_schema (structured output). */
  jsonSchema: boolean;
  /** At least one image_url part. */
  vision: boolean;
  /** reasoning_effort set and not 'none', or DeepSeek `thinking` enabled. */
  reasoning: boolean;
  promptTokens: number;
  /** max_completion_tokens ?? max_tokens ?? null. */
  maxOutput: number | null;
  /** Which field set maxOutput, so that an error can name it as `param`. */
  maxOutputParam: 'max_completion_tokens' | 'max_tokens' | null;
}

function hasImage(req: ChatRequest): boolean {
  return req.messages.some((m) => Array.isArray(m.content) && m.content.some((p) => p.type === 'image_url'));
}

export function needsOf(req: ChatRequest, promptTokens: number): RequestNeeds {
  const maxOutputParam =
    req.max_completion_tokens != null ? 'max_completion_tokens' : req.max_tokens != null ? 'max_tokens' : null;
  return {
    tools: (req.tools?.length ?? 0) > 0,
    jsonSchema: req.response_format?.type === 'json_schema',
    vision: hasImage(req),
    reasoning: (req.reasoning_effort != null && req.reasoning_effort !== 'none') || req.thinking?.type === 'enabled',
    promptTokens,
    maxOutput: req.max_completion_tokens ?? req.max_tokens ?? null,
    maxOutputParam,
  };
}

/** Needs of an embeddings request: only its input size matters. */
export function embeddingNeeds(inputTokens: number): RequestNeeds {
  return {
    tools: false,
    jsonSchema: false,
    vision: false,
    reasoning: false,
    promptTokens: inputTokens,
    maxOutput: null,
    maxOutputParam: null,
  };
}
