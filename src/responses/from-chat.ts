// Translates a Chat Completions result into a Responses API Response object (non-streaming path, and shared helpers).
import type { AssistantMessage, ChatCompletion, FinishReason, Usage } from '../api/openai.js';
import { newId } from './ids.js';
import { shouldStore, type TextFormat } from './schema.js';
import type {
  EchoedFunctionTool,
  EchoedTextFormat,
  OutputFunctionCall,
  OutputItem,
  OutputMessage,
  OutputReasoning,
  ResponseContext,
  ResponseObject,
  ResponseStatus,
  ResponseUsage,
} from './types.js';

export function chatToResponse(completion: ChatCompletion, ctx: ResponseContext): ResponseObject {
  const choice = completion.choices[0];
  const finish = choice?.finish_reason ?? 'stop';
  const { status, incomplete } = statusOf(finish);
  const itemStatus = status === 'incomplete' ? 'incomplete' : 'completed';
  const output = choice ? outputItems(choice.message, itemStatus) : [];
  return {
    ...baseResponse(ctx, status),
    completed_at: status === 'completed' ? Math.max(ctx.createdAt, completion.created) : null,
    incomplete_details: incomplete,
    output,
    usage: mapUsage(completion.usage),
  };
}

function outputItems(message: AssistantMessage, itemStatus: 'completed' | 'incomplete'): OutputItem[] {
  const out: OutputItem[] = [];
  if (message.reasoning_content) {
    const reasoning: OutputReasoning = {
      type: 'reasoning',
      id: newId('rs'),
      summary: [{ type: 'summary_text', text: message.reasoning_content }],
    };
    out.push(reasoning);
  }
  const calls = message.tool_calls ?? [];
  const hasText = typeof message.content === 'string' && message.content !== '';
  // A message item whenever there is text or a refusal, and also when nothing else came back (an empty answer).
  if (hasText || message.refusal || calls.length === 0) {
    const msg: OutputMessage = { type: 'message', id: newId('msg'), role: 'assistant', status: itemStatus, content: [] };
    if (hasText || !message.refusal) msg.content.push({ type: 'output_text', text: message.content ?? '', annotations: [], logprobs: [] });
    if (message.refusal) msg.content.push({ type: 'refusal', refusal: message.refusal });
    out.push(msg);
  }
  for (const call of calls) {
    const fc: OutputFunctionCall = {
      type: 'function_call',
      id: newId('fc'),
      call_id: call.id,
      name: call.function.name,
      arguments: call.function.arguments,
      status: itemStatus,
    };
    out.push(fc);
  }
  return out;
}

/** `length` → incomplete (max_output_tokens), `content_filter` → incomplete (content_filter), anything else → completed. */
export function statusOf(finish: FinishReason | null): {
  status: ResponseStatus;
  incomplete: ResponseObject['incomplete_details'];
} {
  if (finish === 'length') return { status: 'incomplete', incomplete: { reason: 'max_output_tokens' } };
  if (finish === 'content_filter') return { status: 'incomplete', incomplete: { reason: 'content_filter' } };
  return { status: 'completed', incomplete: null };
}

/** Chat usage → Responses usage. Chat's prompt/completion counts already include cached/reasoning tokens, as here. */
export function mapUsage(u: Usage | null | undefined): ResponseUsage | null {
  if (!u) return null;
  const input = u.prompt_tokens ?? 0;
  const output = u.completion_tokens ?? 0;
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: u.prompt_tokens_details?.cached_tokens ?? 0, cache_write_tokens: 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: u.completion_tokens_details?.reasoning_tokens ?? 0 },
    total_tokens: u.total_tokens ?? input + output,
  };
}

/** Responses usage → chat usage (what the metering code reads), e.g. for a natively passed-through OpenAI response. */
export function chatUsageOf(u: ResponseUsage): Usage {
  return {
    prompt_tokens: u.input_tokens,
    completion_tokens: u.output_tokens,
    total_tokens: u.total_tokens,
    prompt_tokens_details: { cached_tokens: u.input_tokens_details?.cached_tokens ?? 0 },
    completion_tokens_details: { reasoning_tokens: u.output_tokens_details?.reasoning_tokens ?? 0 },
  };
}

/** The Response object without output: every request field echoed back the way OpenAI does (defaults filled in). */
export function baseResponse(ctx: ResponseContext, status: ResponseStatus): ResponseObject {
  const req = ctx.req;
  return {
    id: ctx.id,
    object: 'response',
    created_at: ctx.createdAt,
    completed_at: null,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: req.instructions ?? null,
    max_output_tokens: req.max_output_tokens ?? null,
    model: ctx.model,
    output: [],
    parallel_tool_calls: req.parallel_tool_calls ?? true,
    previous_response_id: req.previous_response_id ?? null,
    reasoning: { effort: req.reasoning?.effort ?? null, summary: req.reasoning?.summary ?? null },
    store: ctx.store ?? shouldStore(req),
    temperature: req.temperature ?? 1,
    top_p: req.top_p ?? 1,
    text: { format: echoFormat(req.text?.format), verbosity: req.text?.verbosity ?? 'medium' },
    tool_choice: req.tool_choice ?? 'auto',
    tools: (req.tools ?? []).map(
      (t): EchoedFunctionTool => ({
        type: 'function',
        name: t.name,
        description: t.description ?? null,
        parameters: t.parameters ?? null,
        // Not `true` (OpenAI's default): the gateway does not enforce strict schemas on every provider.
        strict: t.strict ?? null,
      }),
    ),
    truncation: req.truncation ?? 'disabled',
    usage: null,
    metadata: req.metadata ?? {},
    ...(req.user ? { user: req.user } : {}),
    safety_identifier: req.safety_identifier ?? null,
    prompt_cache_key: req.prompt_cache_key ?? null,
    service_tier: req.service_tier ?? 'auto',
  };
}

function echoFormat(f: TextFormat | null | undefined): EchoedTextFormat {
  if (!f || f.type === 'text') return { type: 'text' };
  if (f.type === 'json_object') return { type: 'json_object' };
  return {
    type: 'json_schema',
    name: f.name,
    schema: f.schema,
    ...(f.description ? { description: f.description } : {}),
    strict: f.strict ?? null,
  };
}
