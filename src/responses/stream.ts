// Turns a Chat Completions chunk stream into the Responses API's typed SSE events, in the order the OpenAI SDK expects.
import type { ChatChunk, ChunkDelta, FinishReason, ToolCallDelta, Usage } from '../api/openai.js';
import { isGatewayError } from '../errors.js';
import { UpstreamError } from '../providers/types.js';
import { baseResponse, mapUsage, statusOf } from './from-chat.js';
import { newId } from './ids.js';
import { withKey } from '../objects.js';
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
interface OpenPart {
  contentIndex: number;
  value: string;
}
interface OpenMessage {
  index: number;
  item: OutputMessage;
  text: OpenPart | null;
  refusal: OpenPart | null;
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
  const t = new EventTranslator(ctx);
  t.start();
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

/**
 * The state of one translation. Output items open lazily on their first delta and close (with their `.done` events)
 * when an item of another kind starts or the stream ends, so every item's events stay contiguous as OpenAI sends them.
 */
class EventTranslator {
  private seq = 0;
  private queue: ResponseStreamEvent[] = [];
  private readonly output: OutputItem[] = [];
  private reasoning: OpenReasoning | null = null;
  private message: OpenMessage | null = null;
  private call: OpenCall | null = null;
  private readonly calls = new Map<number, OpenCall>();
  private usage: Usage | null = null;
  private finishReason: FinishReason | null = null;

  constructor(private readonly ctx: ResponseContext) {}

  start(): void {
    this.emit({ type: 'response.created', response: this.snapshot('in_progress') });
    this.emit({ type: 'response.in_progress', response: this.snapshot('in_progress') });
  }

  *drain(): Generator<ResponseStreamEvent> {
    const out = this.queue;
    this.queue = [];
    yield* out;
  }

  onChunk(chunk: ChatChunk): void {
    if (chunk.usage) this.usage = chunk.usage;
    for (const choice of chunk.choices) {
      if (choice.index !== 0) continue; // the Responses API has no `n`: only the first choice is an answer
      this.onDelta(choice.delta ?? {});
      if (choice.finish_reason) this.finishReason = choice.finish_reason;
    }
  }

  finish(): void {
    const { status, incomplete } = statusOf(this.finishReason);
    const itemStatus = status === 'incomplete' ? 'incomplete' : 'completed';
    // Like the non-stream path: an answer with nothing in it is still one (empty) message.
    if (this.output.length === 0) {
      const m = this.openMessage();
      m.text = this.addPart(m, 'text');
    }
    this.closeReasoning();
    this.closeMessage(itemStatus);
    this.closeCall(itemStatus);
    const final: ResponseObject = { ...this.snapshot(status), incomplete_details: incomplete, usage: mapUsage(this.usage) };
    if (status === 'completed') final.completed_at = Math.max(this.ctx.createdAt, Math.floor(Date.now() / 1000));
    this.emit({ type: status === 'completed' ? 'response.completed' : 'response.incomplete', response: final });
  }

  fail(e: unknown): void {
    const info = errorInfoOf(e);
    for (const item of this.output) if (item.status === 'in_progress') item.status = 'incomplete';
    const error = { code: info.code, message: info.message };
    this.emit({ type: 'response.failed', response: { ...this.snapshot('failed'), error, usage: mapUsage(this.usage) } });
    this.emit({ type: 'error', code: info.code, message: info.message, param: info.param, error: info });
  }

  private emit(e: Unsequenced): void {
    const event = withKey(e, 'sequence_number', this.seq++) as ResponseStreamEvent; // per event: no spread (src/objects.ts)
    // Events holding an item, a part or the response are cloned: those keep changing after the event was queued.
    // Deltas hold only strings and numbers (and are most of the events): no clone needed.
    this.queue.push('item' in event || 'part' in event || 'response' in event ? structuredClone(event) : event);
  }

  private snapshot(status: ResponseObject['status']): ResponseObject {
    return { ...baseResponse(this.ctx, status), output: this.output };
  }

  private addItem(item: OutputItem): number {
    this.output.push(item);
    this.emit({ type: 'response.output_item.added', output_index: this.output.length - 1, item });
    return this.output.length - 1;
  }

  private onDelta(delta: ChunkDelta): void {
    if (delta.reasoning_content) {
      const r = this.openReasoning();
      r.text += delta.reasoning_content;
      this.emit({ type: 'response.reasoning_summary_text.delta', item_id: r.item.id, output_index: r.index, summary_index: 0, delta: delta.reasoning_content });
    }
    if (delta.content) this.onText(delta.content);
    if (delta.refusal) this.onRefusal(delta.refusal);
    for (const d of delta.tool_calls ?? []) this.onToolCall(d);
  }

  private openReasoning(): OpenReasoning {
    if (this.reasoning) return this.reasoning;
    this.closeMessage();
    this.closeCall();
    const item: OutputReasoning = { type: 'reasoning', id: newId('rs'), summary: [] };
    const index = this.addItem(item);
    const part = { type: 'summary_text' as const, text: '' };
    item.summary.push(part);
    this.emit({ type: 'response.reasoning_summary_part.added', item_id: item.id, output_index: index, summary_index: 0, part });
    this.reasoning = { index, item, text: '' };
    return this.reasoning;
  }

  private closeReasoning(): void {
    if (!this.reasoning) return;
    const { index, item, text } = this.reasoning;
    const part = { type: 'summary_text' as const, text };
    item.summary[0] = part;
    const loc = { item_id: item.id, output_index: index, summary_index: 0 };
    this.emit({ type: 'response.reasoning_summary_text.done', ...loc, text });
    this.emit({ type: 'response.reasoning_summary_part.done', ...loc, part });
    this.emit({ type: 'response.output_item.done', output_index: index, item });
    this.reasoning = null;
  }

  private openMessage(): OpenMessage {
    if (this.message) return this.message;
    this.closeReasoning();
    this.closeCall();
    const item: OutputMessage = { type: 'message', id: newId('msg'), role: 'assistant', status: 'in_progress', content: [] };
    this.message = { index: this.addItem(item), item, text: null, refusal: null };
    return this.message;
  }

  private addPart(m: OpenMessage, kind: 'text' | 'refusal'): OpenPart {
    const part = kind === 'text' ? { type: 'output_text' as const, text: '', annotations: [], logprobs: [] } : { type: 'refusal' as const, refusal: '' };
    m.item.content.push(part);
    const contentIndex = m.item.content.length - 1;
    this.emit({ type: 'response.content_part.added', item_id: m.item.id, output_index: m.index, content_index: contentIndex, part });
    return { contentIndex, value: '' };
  }

  private onText(delta: string): void {
    const m = this.openMessage();
    m.text ??= this.addPart(m, 'text');
    m.text.value += delta;
    const loc = { item_id: m.item.id, output_index: m.index, content_index: m.text.contentIndex };
    this.emit({ type: 'response.output_text.delta', ...loc, delta, logprobs: [] });
  }

  private onRefusal(delta: string): void {
    const m = this.openMessage();
    m.refusal ??= this.addPart(m, 'refusal');
    m.refusal.value += delta;
    this.emit({ type: 'response.refusal.delta', item_id: m.item.id, output_index: m.index, content_index: m.refusal.contentIndex, delta });
  }

  private closeMessage(status: 'completed' | 'incomplete' = 'completed'): void {
    if (!this.message) return;
    const { index, item, text, refusal } = this.message;
    const loc = { item_id: item.id, output_index: index };
    if (text) {
      const part = { type: 'output_text' as const, text: text.value, annotations: [], logprobs: [] };
      item.content[text.contentIndex] = part;
      this.emit({ type: 'response.output_text.done', ...loc, content_index: text.contentIndex, text: text.value, logprobs: [] });
      this.emit({ type: 'response.content_part.done', ...loc, content_index: text.contentIndex, part });
    }
    if (refusal) {
      const part = { type: 'refusal' as const, refusal: refusal.value };
      item.content[refusal.contentIndex] = part;
      this.emit({ type: 'response.refusal.done', ...loc, content_index: refusal.contentIndex, refusal: refusal.value });
      this.emit({ type: 'response.content_part.done', ...loc, content_index: refusal.contentIndex, part });
    }
    item.status = status;
    this.emit({ type: 'response.output_item.done', output_index: index, item });
    this.message = null;
  }

  private onToolCall(d: ToolCallDelta): void {
    let c = this.calls.get(d.index);
    if (!c) {
      this.closeReasoning();
      this.closeMessage();
      this.closeCall();
      const item: OutputFunctionCall = {
        type: 'function_call',
        id: newId('fc'),
        call_id: d.id ?? `call_${newId('fc').slice(3, 27)}`,
        name: d.function?.name ?? '',
        arguments: '',
        status: 'in_progress',
      };
      c = { index: this.addItem(item), item };
      this.calls.set(d.index, c);
      this.call = c;
    } else if (d.function?.name && !c.item.name) {
      c.item.name = d.function.name;
    }
    const delta = d.function?.arguments ?? '';
    if (delta === '') return;
    c.item.arguments += delta;
    // A late delta for a call already closed (never seen from real upstreams) still lands in the final response.
    if (c === this.call) this.emit({ type: 'response.function_call_arguments.delta', item_id: c.item.id, output_index: c.index, delta });
  }

  private closeCall(status: 'completed' | 'incomplete' = 'completed'): void {
    if (!this.call) return;
    const { index, item } = this.call;
    item.status = status;
    this.emit({ type: 'response.function_call_arguments.done', item_id: item.id, output_index: index, name: item.name, arguments: item.arguments });
    this.emit({ type: 'response.output_item.done', output_index: index, item });
    this.call = null;
  }
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
