// Builders for chat chunks/completions and Responses requests used by the responses translation tests.
import type { ChatChunk, ChatCompletion, ChunkDelta, FinishReason, Usage } from '../../src/api/openai.js';
import { parseResponsesRequest, type ResponsesRequest } from '../../src/responses/schema.js';
import type { ResponseContext } from '../../src/responses/types.js';

export function req(body: Record<string, unknown>): ResponsesRequest {
  return parseResponsesRequest({ model: 'gpt-4o-mini', ...body });
}

export function ctxFor(body: Record<string, unknown> = {}, overrides: Partial<ResponseContext> = {}): ResponseContext {
  return { id: 'resp_test1', createdAt: 1_790_000_000, req: req(body), model: 'gpt-4o-mini-2024-07-18', ...overrides };
}

export const usage: Usage = {
  prompt_tokens: 120,
  completion_tokens: 45,
  total_tokens: 165,
  prompt_tokens_details: { cached_tokens: 64 },
  completion_tokens_details: { reasoning_tokens: 12 },
};

export function chunk(delta: ChunkDelta, finish: FinishReason | null = null): ChatChunk {
  return { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1_790_000_001, model: 'm', choices: [{ index: 0, delta, finish_reason: finish }] };
}

export function usageChunk(u: Usage = usage): ChatChunk {
  return { id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1_790_000_001, model: 'm', choices: [], usage: u };
}

export async function* fromArray<T>(items: readonly T[], failWith?: unknown): AsyncGenerator<T> {
  for (const item of items) yield item;
  if (failWith !== undefined) throw failWith;
}

export function completion(message: Partial<ChatCompletion['choices'][number]['message']>, finish: FinishReason = 'stop', u: Usage | null = usage): ChatCompletion {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion',
    created: 1_790_000_002,
    model: 'm',
    choices: [{ index: 0, message: { role: 'assistant', content: null, ...message }, finish_reason: finish, logprobs: null }],
    usage: u,
  };
}
