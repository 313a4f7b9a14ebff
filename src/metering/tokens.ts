// Token counting (o200k_base through gpt-tokenizer) for prompts, streamed output and embeddings inputs, and the cheap
// estimate the request path uses instead whenever an exact count could not change a routing or pricing decision.
import { createRequire } from 'node:module';
import type { ChatMessage, ChatRequest } from '../api/openai.js';

interface O200k {
  countTokens(text: string): number;
  encode(text: string): number[];
}
let o200k: O200k | null = null;

/**
 * gpt-tokenizer's o200k tables cost about 70 MB of heap and 200 ms to build: loaded (synchronously, once) on the first
 * exact count, which a gateway serving ordinary chat traffic may never need (see estimatePromptTokens). Everything
 * that tokenizes goes through here, so one copy is ever loaded.
 */
export function tokenizer(): O200k {
  o200k ??= createRequire(import.meta.url)('gpt-tokenizer') as O200k;
  return o200k;
}

export function countTokens(text: string): number {
  return text.length === 0 ? 0 : tokenizer().countTokens(text);
}

/** Per-message framing overhead of the chat format (role and separators), as OpenAI counts it. */
const PER_MESSAGE = 3;
const PER_REPLY = 3;
/** A flat charge for an image part: real costs depend on size and detail; this keeps estimates in the right range. */
const IMAGE_TOKENS = 765;

/**
 * Walks the billable text of a chat request (message contents, assistant tool calls, tool definitions, the JSON
 * schema), handing each piece to `measure` and summing what it returns; gives back that sum and the framing tokens
 * (per message, per reply, per image) that no text measure sees.
 */
function measurePrompt(req: Pick<ChatRequest, 'messages' | 'tools' | 'response_format'>, measure: (text: string) => number): { text: number; framing: number } {
  let text = 0;
  let framing = PER_REPLY;
  const content = (c: ChatMessage['content']) => {
    if (c == null) return;
    if (typeof c === 'string') {
      text += measure(c);
      return;
    }
    for (const part of c) {
      if (part.type === 'text') text += measure(part.text);
      else if (part.type === 'image_url') framing += IMAGE_TOKENS;
      else if (part.type === 'refusal') text += measure(part.refusal);
    }
  };
  for (const m of req.messages) {
    framing += PER_MESSAGE;
    content(m.content);
    if (m.role === 'assistant' && m.tool_calls) {
      for (const c of m.tool_calls) text += measure(c.function.name) + measure(c.function.arguments);
    }
  }
  if (req.tools?.length) text += measure(JSON.stringify(req.tools));
  if (req.response_format?.type === 'json_schema') text += measure(JSON.stringify(req.response_format.json_schema));
  return { text, framing };
}

/** Prompt tokens of a chat request: messages, tool definitions and schema, as an estimate of what the provider will bill. */
export function countPromptTokens(req: Pick<ChatRequest, 'messages' | 'tools' | 'response_format'>): number {
  const { text, framing } = measurePrompt(req, countTokens);
  return framing + text;
}

const utf8 = (s: string): number => Buffer.byteLength(s, 'utf8');

/**
 * Prompt tokens for routing, reservations and limits, without the tokenizer when it cannot matter. o200k is a byte-level
 * BPE, so a text never holds more tokens than UTF-8 bytes: when even that upper bound plus the requested output stays
 * below `exactFrom` (the catalog's smallest chat context window and first price tier, Catalog.exactCountFrom), every
 * context-window and tier decision comes out the same with an estimate (about four bytes a token), and the estimate is
 * returned. Larger prompts are counted exactly. What is billed comes from the provider's usage, never from this.
 */
export function estimatePromptTokens(req: Pick<ChatRequest, 'messages' | 'tools' | 'response_format' | 'max_tokens' | 'max_completion_tokens'>, exactFrom: number): number {
  const { text: bytes, framing } = measurePrompt(req, utf8);
  const maxOut = req.max_completion_tokens ?? req.max_tokens ?? 0;
  if (framing + bytes + Math.max(maxOut, 0) + 1 > exactFrom) return countPromptTokens(req);
  return framing + Math.ceil(bytes / 4);
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
