// Translates Gemini generateContent answers into OpenAI chat completions: parts, tool calls, finish reasons, usage.
import { randomBytes } from 'node:crypto';
import type { AssistantMessage, ChatCompletion, FinishReason, ToolCall, Usage } from '../api/openai.js';
import { makeToolCallId } from './gemini-ids.js';
import type { GeminiCandidate, GeminiPart, GeminiResponse, GeminiUsageMetadata } from './gemini-wire.js';

/**
 * Gemini finishReason → OpenAI finish_reason. Safety-like stops are content_filter; OTHER too (PROVIDERS.md). The
 * function-calling failures (MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL, TOO_MANY_TOOL_CALLS) have no OpenAI
 * equivalent: the model stopped without a usable call, so they are `stop` (see docs/parameters.md).
 */
const finishReasons: Record<string, FinishReason> = {
  STOP: 'stop',
  MAX_TOKENS: 'length',
  SAFETY: 'content_filter',
  RECITATION: 'content_filter',
  BLOCKLIST: 'content_filter',
  PROHIBITED_CONTENT: 'content_filter',
  SPII: 'content_filter',
  LANGUAGE: 'content_filter',
  IMAGE_SAFETY: 'content_filter',
  IMAGE_PROHIBITED_CONTENT: 'content_filter',
  IMAGE_RECITATION: 'content_filter',
  IMAGE_OTHER: 'content_filter',
  OTHER: 'content_filter',
  MALFORMED_FUNCTION_CALL: 'stop',
  UNEXPECTED_TOOL_CALL: 'stop',
  TOO_MANY_TOOL_CALLS: 'stop',
  FINISH_REASON_UNSPECIFIED: 'stop',
};

export function mapFinishReason(reason: string | undefined, hasToolCalls: boolean): FinishReason | null {
  if (!reason) return null;
  const mapped = finishReasons[reason] ?? 'stop';
  return mapped === 'stop' && hasToolCalls && reason === 'STOP' ? 'tool_calls' : mapped;
}

/** promptTokenCount already includes cached tokens; billed output is candidates + thoughts. */
export function usageFromGemini(u: GeminiUsageMetadata | undefined): Usage | null {
  if (!u) return null;
  const prompt = (u.promptTokenCount ?? 0) + (u.toolUsePromptTokenCount ?? 0);
  const reasoning = u.thoughtsTokenCount ?? 0;
  const completion = (u.candidatesTokenCount ?? 0) + reasoning;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: u.cachedContentTokenCount ?? 0 },
    completion_tokens_details: { reasoning_tokens: reasoning },
  };
}

export function newCompletionId(responseId: string | undefined): string {
  return `chatcmpl-${responseId ?? randomBytes(12).toString('base64url')}`;
}

export interface PartsSummary {
  text: string;
  reasoning: string;
  toolCalls: ToolCall[];
}

/** Splits a candidate's parts into text, thoughts and tool calls; `firstCall` numbers calls across stream chunks. */
export function summarizeParts(
  parts: GeminiPart[] | undefined,
  ids: { seed: string | undefined; candidate: number; firstCall: number },
): PartsSummary {
  const out: PartsSummary = { text: '', reasoning: '', toolCalls: [] };
  for (const part of parts ?? []) {
    if (part.functionCall) {
      const call = ids.firstCall + out.toolCalls.length;
      out.toolCalls.push({
        id: makeToolCallId(ids.seed, ids.candidate, call, part.thoughtSignature),
        type: 'function',
        function: { name: part.functionCall.name, arguments: JSON.stringify(part.functionCall.args ?? {}) },
      });
    } else if (typeof part.text === 'string') {
      if (part.thought) out.reasoning += part.text;
      else out.text += part.text;
    }
  }
  return out;
}

function choiceFrom(c: GeminiCandidate, position: number, seed: string | undefined, includeThoughts: boolean) {
  const index = c.index ?? position;
  const s = summarizeParts(c.content?.parts, { seed, candidate: index, firstCall: 0 });
  const message: AssistantMessage = { role: 'assistant', content: s.text === '' && s.toolCalls.length > 0 ? null : s.text, refusal: null };
  if (s.toolCalls.length > 0) message.tool_calls = s.toolCalls;
  if (includeThoughts && s.reasoning !== '') message.reasoning_content = s.reasoning;
  return { index, message, finish_reason: mapFinishReason(c.finishReason, s.toolCalls.length > 0) ?? 'stop', logprobs: null };
}

export interface CompletionOptions {
  model: string;
  includeThoughts: boolean;
  created?: number;
}

/** A whole answer; null when it has neither candidates nor a block reason (unusable). */
export function toChatCompletion(resp: GeminiResponse, opts: CompletionOptions): ChatCompletion | null {
  const candidates = resp.candidates ?? [];
  let choices: ChatCompletion['choices'];
  if (candidates.length === 0) {
    if (!resp.promptFeedback?.blockReason) return null;
    // A blocked prompt is still a valid answer for OpenAI clients: empty content, content_filter.
    choices = [{ index: 0, message: { role: 'assistant', content: '', refusal: null }, finish_reason: 'content_filter', logprobs: null }];
  } else {
    choices = candidates.map((c, i) => choiceFrom(c, i, resp.responseId, opts.includeThoughts));
  }
  return {
    id: newCompletionId(resp.responseId),
    object: 'chat.completion',
    created: opts.created ?? Math.floor(Date.now() / 1000),
    model: resp.modelVersion ?? opts.model,
    choices,
    usage: usageFromGemini(resp.usageMetadata),
  };
}
