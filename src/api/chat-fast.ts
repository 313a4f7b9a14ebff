// A fast path in front of chatRequestSchema for the common Chat Completions body: text messages and scalar options.
//
// Why: zod's safeParse of a small chat body costs ~1.1–1.6 µs warm (this check ~0.1 µs), but ~0.2 ms on the cold path a request meets after the
// gateway slept or only forwarded stream chunks (added time to first token, 60 ms upstream: docs/performance.md), and
// it allocates a copy of every object of the body. This check touches a few property reads per field.
//
// Contract: `chatRequestFast(v)` returns `v` itself only when chatRequestSchema.safeParse(v) would succeed with data
// deep-equal to `v` (the schema's objects are loose, with no defaults or transforms, so a valid body comes out as it
// went in); otherwise null, and the caller runs zod, which also words the error. Anything it does not know well enough
// (tools, tool_choice, response_format, metadata, content parts, assistant tool calls, a `__proto__` key) is left to
// zod. test/unit/chat-fast.test.ts checks the contract on random bodies against the schema itself.
import type { ChatRequest } from './openai.js';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const nullish = (v: unknown) => v === undefined || v === null;
const num = (v: unknown, min: number, max: number) => typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max;
const int = (v: unknown, min: number, max: number) => Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max;
const optString = (v: unknown) => v === undefined || typeof v === 'string';
const nullishString = (v: unknown) => nullish(v) || typeof v === 'string';
const nullishBool = (v: unknown) => nullish(v) || typeof v === 'boolean';

const EFFORTS = new Set(['none', 'minimal', 'low', 'medium', 'high', 'xhigh', 'max']);

/** One top-level field: true when its value passes its schema (as zod's nullish variant of it); unknown keys pass (loose). */
function fieldOk(key: string, v: unknown): boolean {
  switch (key) {
    case 'model':
      return typeof v === 'string' && v.length >= 1 && v.length <= 256;
    case 'messages':
      return messagesOk(v);
    case 'stream':
    case 'logprobs':
    case 'parallel_tool_calls':
      return nullishBool(v);
    case 'stream_options':
      return nullish(v) || (isObj(v) && !hasProtoKey(v) && (v.include_usage === undefined || typeof v.include_usage === 'boolean'));
    case 'max_tokens':
    case 'max_completion_tokens':
      return nullish(v) || int(v, 1, 10_000_000);
    case 'temperature':
      return nullish(v) || num(v, 0, 2);
    case 'top_p':
      return nullish(v) || num(v, 0, 1);
    case 'n':
      return nullish(v) || int(v, 1, 128);
    case 'seed':
      return nullish(v) || int(v, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    case 'presence_penalty':
    case 'frequency_penalty':
      return nullish(v) || num(v, -2, 2);
    case 'top_logprobs':
      return nullish(v) || int(v, 0, 20);
    case 'stop':
      return nullish(v) || typeof v === 'string' || (Array.isArray(v) && v.length <= 4 && v.every((s) => typeof s === 'string'));
    case 'reasoning_effort':
      return nullish(v) || (typeof v === 'string' && EFFORTS.has(v));
    case 'thinking':
      return nullish(v) || (isObj(v) && !hasProtoKey(v) && (v.type === 'enabled' || v.type === 'disabled'));
    case 'user':
    case 'safety_identifier':
    case 'prompt_cache_key':
    case 'service_tier':
      return nullishString(v);
    case 'tools':
    case 'tool_choice':
    case 'response_format':
    case 'metadata':
      return nullish(v); // present: zod's
    case '__proto__':
      return false;
    default:
      return true;
  }
}

const hasProtoKey = (o: Obj) => Object.hasOwn(o, '__proto__');

function messagesOk(v: unknown): boolean {
  if (!Array.isArray(v) || v.length === 0) return false;
  for (let i = 0; i < v.length; i++) if (!messageOk(v[i])) return false;
  return true;
}

/** Text messages only: system, developer, user and tool with string content; an assistant's text (or null) turn. */
function messageOk(m: unknown): boolean {
  if (!isObj(m) || hasProtoKey(m)) return false;
  switch (m.role) {
    case 'system':
    case 'developer':
    case 'user':
      return typeof m.content === 'string' && optString(m.name);
    case 'assistant':
      return (
        nullishString(m.content) &&
        optString(m.name) &&
        nullishString(m.refusal) &&
        m.tool_calls === undefined &&
        nullishString(m.reasoning_content)
      );
    case 'tool':
      return typeof m.content === 'string' && typeof m.tool_call_id === 'string';
    default:
      return false;
  }
}

/** `v` as a ChatRequest when it certainly is one as it stands (see the contract above); null: let zod decide. */
export function chatRequestFast(v: unknown): ChatRequest | null {
  if (!isObj(v)) return null;
  // Required fields first: their absence is zod's to word.
  if (v.model === undefined || v.messages === undefined) return null;
  // for…in lists an own `__proto__` key too (JSON.parse makes it a plain property): fieldOk leaves it to zod.
  for (const key in v) {
    if (!Object.hasOwn(v, key) || !fieldOk(key, v[key])) return null;
  }
  return v as ChatRequest;
}
