// Token counting (o200k_base through gpt-tokenizer) for prompts, streamed output and embeddings inputs.
import { countTokens as countO200k } from 'gpt-tokenizer';
import type { ChatMessage, ChatRequest } from '../api/openai.js';

export function countTokens(text: string): number {
  return text.length === 0 ? 0 : countO200k(text);
}

/** Per-message framing overhead of the chat format (role and separators), as OpenAI counts it. */
const PER_MESSAGE = 3;
const PER_REPLY = 3;
/** A flat charge for an image part: real costs depend on size and detail; this keeps estimates in the right range. */
const IMAGE_TOKENS = 765;

function contentTokens(content: ChatMessage['content']): number {
  if (content == null) return 0;
  if (typeof content === 'string') return countTokens(content);
  let n = 0;
  for (const part of content) {
    if (part.type === 'text') n += countTokens(part.text);
    else if (part.type === 'image_url') n += IMAGE_TOKENS;
    else if (part.type === 'refusal') n += countTokens(part.refusal);
  }
  return n;
}

/** Prompt tokens of a chat request: messages, tool definitions and schema, as an estimate of what the provider will bill. */
export function countPromptTokens(req: Pick<ChatRequest, 'messages' | 'tools' | 'response_format'>): number {
  let n = PER_REPLY;
  for (const m of req.messages) {
    n += PER_MESSAGE + contentTokens(m.content);
    if (m.role === 'assistant' && m.tool_calls) {
      for (const c of m.tool_calls) n += countTokens(c.function.name) + countTokens(c.function.arguments);
    }
  }
  if (req.tools?.length) n += countTokens(JSON.stringify(req.tools));
  if (req.response_format?.type === 'json_schema') n += countTokens(JSON.stringify(req.response_format.json_schema));
  return n;
}

/** Tokens of an embeddings input (strings are counted, token arrays are their length). */
export function countEmbeddingInputTokens(input: string | string[] | number[] | number[][]): number {
  if (typeof input === 'string') return countTokens(input);
  if (input.length === 0) return 0;
  if (typeof input[0] === 'number') return input.length;
  let n = 0;
  for (const x of input as Array<string | number[]>) n += typeof x === 'string' ? countTokens(x) : x.length;
  return n;
}
