// Turns a Chat Completions chunk stream into the Responses API's typed SSE events, in the order the OpenAI SDK expects.
import type { ChatChunk, ChunkDelta, FinishReason, ToolCallDelta, Usage } from '../api/openai.js';
import { isGatewayError } from '../errors.js';
import { UpstreamError } from '../providers/types.js';
import { baseResponse, mapUsage, statusOf } from './from-chat.js';
import { newId } from './ids.js';
import type {
  OutputFunctionCall,
  OutputItem,
  OutputMessage,
  OutputReasoning,
  ResponseContext,
  ResponseObject,
  ResponseStreamEvent,
} from './types.js';

/** Events as emitted, before the sequence number is stamped on. */
type Unsequenced = ResponseStreamEvent extends infer E ? (E extends ResponseStreamEvent ? Omit<E, 'sequence_number'> : never) : never;

interface OpenReasoning {
  index: number;
  item: OutputReasoning;
  text: string;
}
interface OpenMessage {
  index: number;
  item: OutputMessage;
  text: { contentIndex: number; value: string } | null;
  refusal: { contentIndex: number; value: string } | null;
}
interface OpenCall {
  index: number;
  item: OutputFunctionCall;
}

/**
 * The chat stream is read once; events are yielded as each chunk is translated (nothing is buffered to the end).
 * On an error thrown by `chunks`, the stream ends with `response.failed` and then an `error` event.
 */
export async function* chatStreamToResponseEvents(
  chunks: AsyncIterable<ChatChunk>,
  ctx: ResponseContext,
): AsyncGenerator<ResponseStreamEvent, void, undefined> {
  const t = createTranslator(ctx);
  yield* t.drain();
  try {
    for await (const chunk of chunks) {
      t.onChunk(chunk);
      yield* t.drain();
    }
  } catch (e) {
    t.fail(e);
    yield* t.drain();
    return;
  }
  t.finish();
  yield* t.drain();
}

function createTranslator(ctx: ResponseContext) {
  let seq = 0;
  let queue: ResponseStreamEvent[] = [];
  const output: OutputItem[] = [];
  let reasoning: OpenReasoning | null = null;
  let message: OpenMessage | null = null;
  let call: OpenCall | null = null;
  const calls = new Map<number, OpenCall>();
  let usage: Usage | null = null;
  let finish: FinishReason | null = null;

  const emit = (e: Unsequenced): void => {
    queue.push(structuredClone({ ...e, sequence_number: seq++ }) as ResponseStreamEvent);
  };
  const snapshot = (status: ResponseObject['status']): ResponseObject => ({ ...baseResponse(ctx, status), output });
  const addItem = (item: OutputItem): number => {
    output.push(item);
    emit({ type: 'response.output_item.added', output_index: output.length - 1, item });
    return output.length - 1;
  };

  function openReasoning(): OpenReasoning {
    if (reasoning) return reasoning;
    closeMessage();
    closeCall();
    const item: OutputReasoning = { type: 'reasoning', id: newId('rs'), summary: [] };
    const index = addItem(item);
    item.summary.push({ type: 'summary_text', text: '' });
    emit({ type: 'response.reasoning_summary_part.added', item_id: item.id, output_index: index, summary_index: 0, part: { type: 'summary_text', text: '' } });
    reasoning = { index, item, text: '' };
    return reasoning;
  }

  function closeReasoning(): void {
    if (!reasoning) return;
    const { index, item, text } = reasoning;
    item.summary[0] = { type: 'summary_text', text };
    emit({ type: 'response.reasoning_summary_text.done', item_id: item.id, output_index: index, summary_index: 0, text });
    emit({ type: 'response.reasoning_summary_part.done', item_id: item.id, output_index: index, summary_index: 0, part: item.summary[0] });
    emit({ type: 'response.output_item.done', output_index: index, item });
    reasoning = null;
  }

  function openMessage(): OpenMessage {
    if (message) return message;
    closeReasoning();
    closeCall();
    const item: OutputMessage = { type: 'message', id: newId('msg'), role: 'assistant', status: 'in_progress', content: [] };
    message = { index: addItem(item), item, text: null, refusal: null };
    return message;
  }

  function addPart(m: OpenMessage, kind: 'text' | 'refusal'): { contentIndex: number; value: string } {
    const part = kind === 'text' ? { type: 'output_text' as const, text: '', annotations: [], logprobs: [] } : { type: 'refusal' as const, refusal: '' };
    m.item.content.push(part);
    const contentIndex = m.item.content.length - 1;
    emit({ type: 'response.content_part.added', item_id: m.item.id, output_index: m.index, content_index: contentIndex, part });
    return { contentIndex, value: '' };
  }

  function onText(delta: string): void {
    const m = openMessage();
    m.text ??= addPart(m, 'text');
    m.text.value += delta;
    emit({ type: 'response.output_text.delta', item_id: m.item.id, output_index: m.index, content_index: m.text.contentIndex, delta, logprobs: [] });
  }

  function onRefusal(delta: string): void {
    const m = openMessage();
    m.refusal ??= addPart(m, 'refusal');
    m.refusal.value += delta;
    emit({ type: 'response.refusal.delta', item_id: m.item.id, output_index: m.index, content_index: m.refusal.contentIndex, delta });
  }

  function closeMessage(status: 'completed' | 'incomplete' = 'completed'): void {
    if (!message) return;
    const { index, item, text, refusal } = message;
    const loc = { item_id: item.id, output_index: index };
    if (text) {
      const part = { type: 'output_text' as const, text: text.value, annotations: [], logprobs: [] };
      item.content[text.contentIndex] = part;
      emit({ type: 'response.output_text.done', ...loc, content_index: text.contentIndex, text: text.value, logprobs: [] });
      emit({ type: 'response.content_part.done', ...loc, content_index: text.contentIndex, part });
    }
    if (refusal) {
      const part = { type: 'refusal' as const, refusal: refusal.value };
      item.content[refusal.contentIndex] = part;
      emit({ type: 'response.refusal.done', ...loc, content_index: refusal.contentIndex, refusal: refusal.value });
      emit({ type: 'response.content_part.done', ...loc, content_index: refusal.contentIndex, part });
    }
    item.status = status;
    emit({ type: 'response.output_item.done', output_index: index, item });
    message = null;
  }

  function onToolCall(d: ToolCallDelta): void {
    let c = calls.get(d.index);
    if (!c) {
      closeReasoning();
      closeMessage();
      closeCall();
      const item: OutputFunctionCall = {
        type: 'function_call',
        id: newId('fc'),
        call_id: d.id ?? `call_${newId('fc').slice(3, 27)}`,
        name: d.function?.name ?? '',
        arguments: '',
        status: 'in_progress',
      };
      c = { index: addItem(item), item };
      calls.set(d.index, c);
      call = c;
    } else if (d.function?.name && !c.item.name) {
      c.item.name = d.function.name;
    }
    const delta = d.function?.arguments ?? '';
    if (delta === '') return;
    c.item.arguments += delta;
    // A late delta for a call already closed (never seen from real upstreams) still lands in the final response.
    if (c === call) emit({ type: 'response.function_call_arguments.delta', item_id: c.item.id, output_index: c.index, delta });
  }

  function closeCall(status: 'completed' | 'incomplete' = 'completed'): void {
    if (!call) return;
    const { index, item } = call;
    item.status = status;
    emit({ type: 'response.function_call_arguments.done', item_id: item.id, output_index: index, name: item.name, arguments: item.arguments });
    emit({ type: 'response.output_item.done', output_index: index, item });
    call = null;
  }

  function onDelta(delta: ChunkDelta): void {
    if (delta.reasoning_content) {
      const r = openReasoning();
      r.text += delta.reasoning_content;
      emit({ type: 'response.reasoning_summary_text.delta', item_id: r.item.id, output_index: r.index, summary_index: 0, delta: delta.reasoning_content });
    }
    if (delta.content) onText(delta.content);
    if (delta.refusal) onRefusal(delta.refusal);
    for (const d of delta.tool_calls ?? []) onToolCall(d);
  }

  emit({ type: 'response.created', response: snapshot('in_progress') });
  emit({ type: 'response.in_progress', response: snapshot('in_progress') });

  return {
    *drain(): Generator<ResponseStreamEvent> {
      const out = queue;
      queue = [];
      yield* out;
    },
    onChunk(chunk: ChatChunk): void {
      if (chunk.usage) usage = chunk.usage;
      for (const choice of chunk.choices) {
        if (choice.index !== 0) continue; // the Responses API has no `n`: only the first choice is an answer
        onDelta(choice.delta ?? {});
        if (choice.finish_reason) finish = choice.finish_reason;
      }
    },
    finish(): void {
      const { status, incomplete } = statusOf(finish);
      const itemStatus = status === 'incomplete' ? 'incomplete' : 'completed';
      closeReasoning();
      closeMessage(itemStatus);
      closeCall(itemStatus);
      const final: ResponseObject = { ...snapshot(status), incomplete_details: incomplete, usage: mapUsage(usage) };
      if (status === 'completed') final.completed_at = Math.max(ctx.createdAt, Math.floor(Date.now() / 1000));
      emit({ type: status === 'completed' ? 'response.completed' : 'response.incomplete', response: final });
    },
    fail(e: unknown): void {
      const info = errorInfoOf(e);
      for (const item of output) if (item.status === 'in_progress') item.status = 'incomplete';
      const failed: ResponseObject = { ...snapshot('failed'), error: { code: info.code, message: info.message }, usage: mapUsage(usage) };
      emit({ type: 'response.failed', response: failed });
      emit({ type: 'error', code: info.code, message: info.message, param: info.param, error: info });
    },
  };
}

export interface StreamErrorInfo {
  type: string;
  code: string;
  message: string;
  param: string | null;
}

/** What the client is told about a failure in the middle of a stream; internal errors are not described. */
export function errorInfoOf(e: unknown): StreamErrorInfo {
  if (e instanceof UpstreamError) {
    const code = e.code ?? (e.status === 429 ? 'rate_limit_exceeded' : 'server_error');
    return { type: e.type ?? 'server_error', code, message: e.message, param: e.param };
  }
  if (isGatewayError(e)) return { type: e.type, code: e.wireCode ?? e.code, message: e.message, param: e.param };
  return { type: 'server_error', code: 'server_error', message: 'The response failed because of an internal error.', param: null };
}

/** One SSE frame as OpenAI sends it: the event name and its JSON (Responses streams have no `[DONE]`). */
export function formatSse(event: ResponseStreamEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

const terminal = new Set(['response.completed', 'response.incomplete', 'response.failed']);

/** The final Response carried by a terminal event, or null for any other event. */
export function finalResponseOf(event: ResponseStreamEvent): ResponseObject | null {
  return terminal.has(event.type) && 'response' in event ? event.response : null;
}

/** Passes events through unchanged and reports the final Response (for storing it and for the ledger) when it goes by. */
export async function* tapFinalResponse(
  events: AsyncIterable<ResponseStreamEvent>,
  onFinal: (response: ResponseObject) => void,
): AsyncGenerator<ResponseStreamEvent, void, undefined> {
  for await (const event of events) {
    const final = finalResponseOf(event);
    if (final) onFinal(final);
    yield event;
  }
}

/** Reads a whole event stream and returns its final Response; throws if the stream ended without one. */
export async function collectResponse(events: AsyncIterable<ResponseStreamEvent>): Promise<ResponseObject> {
  let final: ResponseObject | null = null;
  for await (const event of events) final = finalResponseOf(event) ?? final;
  if (!final) throw new Error('response stream ended without a terminal event');
  return final;
}
