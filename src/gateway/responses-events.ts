// Responses API event streams on the gateway side: OpenAI's native events read with the client's echo restored (and a
// failure ending when the upstream breaks off), and the client's SSE bytes with the final Response tapped off.
import { baseResponse, errorInfoOf, finalResponseOf, formatSse, readResponseEvents, restoreEventEcho } from '../responses/index.js';
import type { ResponseContext, ResponseObject, ResponseStreamEvent } from '../responses/types.js';
import { UpstreamError } from '../providers/types.js';
import { eventPull, type SseSource } from '../http/sse-out.js';

const encoder = new TextEncoder();

/**
 * OpenAI's Responses SSE as events, echo restored. A body that breaks off or ends without a terminal event ends here
 * with `response.failed` and `error` (as the translated path does), so that the client always sees how it ended.
 */
export async function* nativeEvents(body: ReadableStream<Uint8Array>, ctx: ResponseContext): AsyncGenerator<ResponseStreamEvent, void, undefined> {
  let last: ResponseObject | null = null;
  let seq = 0;
  let yielded = false;
  let terminal = false;
  try {
    for await (const event of readResponseEvents(body as unknown as AsyncIterable<Uint8Array>)) {
      restoreEventEcho(event, ctx.req);
      if ('response' in event) last = event.response;
      if (finalResponseOf(event)) terminal = true;
      if (typeof event.sequence_number === 'number') seq = event.sequence_number + 1;
      yielded = true;
      yield event;
    }
  } catch (e) {
    if (!yielded) throw e; // nothing sent yet: the caller may still fall back
    yield* failureEvents(e, last ?? baseResponse(ctx, 'in_progress'), seq);
    return;
  }
  if (!terminal) {
    const cut = new UpstreamError({ provider: 'openai', kind: 'stream', message: 'openai: the response stream ended before the response was complete.' });
    yield* failureEvents(cut, last ?? baseResponse(ctx, 'in_progress'), seq);
  }
}

function* failureEvents(e: unknown, last: ResponseObject, seq: number): Generator<ResponseStreamEvent> {
  const info = errorInfoOf(e);
  yield {
    type: 'response.failed',
    sequence_number: seq,
    response: { ...last, status: 'failed', completed_at: null, error: { code: info.code, message: info.message } },
  };
  yield { type: 'error', sequence_number: seq + 1, code: info.code, message: info.message, param: info.param, error: info };
}

export interface EventStreamOutcome {
  /** The Response of the terminal event (completed, incomplete or failed), if one went by. */
  final: ResponseObject | null;
  /** The deltas' text, tokenized only if the stream ends without usage (sse.ts countedTokens). */
  outputParts: string[];
  reasoningParts: string[];
  /** performance.now() of the first event written to the client. */
  firstChunkAt: number | null;
  /** The `error` event's code, when the stream ended in failure. */
  errorCode: string | null;
  /** The client went away before the end. */
  aborted: boolean;
}

export interface ResponseEventStreamOptions {
  first: ResponseStreamEvent;
  rest: AsyncIterator<ResponseStreamEvent>;
  abortUpstream: () => void;
  /** Awaited before the terminal event is written (store the response before the client can refer to it). */
  beforeFinal: (response: ResponseObject) => Promise<void>;
  onDone: (o: EventStreamOutcome) => void;
}

function tally(o: EventStreamOutcome, event: ResponseStreamEvent): void {
  switch (event.type) {
    case 'response.output_text.delta':
    case 'response.refusal.delta':
    case 'response.function_call_arguments.delta':
      o.outputParts.push(event.delta);
      break;
    case 'response.reasoning_summary_text.delta':
      o.reasoningParts.push(event.delta);
      break;
    case 'error':
      o.errorCode = event.code ?? 'upstream_stream_error';
      break;
    default:
      break;
  }
}

/** Pulled by the client (backpressure): one event per pull, upstream aborted when the client leaves (src/http/sse-out.ts). */
export function responseEventSource(opts: ResponseEventStreamOptions): SseSource {
  const outcome: EventStreamOutcome = { final: null, outputParts: [], reasoningParts: [], firstChunkAt: null, errorCode: null, aborted: false };
  let nextSeq = 0;
  const bytesOf = (event: ResponseStreamEvent) => {
    if (typeof event.sequence_number === 'number') nextSeq = event.sequence_number + 1;
    outcome.firstChunkAt ??= performance.now();
    return encoder.encode(formatSse(event));
  };
  return eventPull<ResponseStreamEvent>({
    first: opts.first,
    rest: opts.rest,
    render(event) {
      tally(outcome, event);
      const final = finalResponseOf(event);
      if (!final) return bytesOf(event);
      outcome.final = final;
      if (final.status === 'failed') outcome.errorCode ??= final.error?.code ?? 'response_failed';
      return opts.beforeFinal(final).then(() => bytesOf(event));
    },
    end: null,
    fail(e) {
      // The event sources end in failure events themselves; this is the gateway's own fault.
      const info = errorInfoOf(e);
      outcome.errorCode = info.code;
      return encoder.encode(formatSse({ type: 'error', sequence_number: nextSeq, code: info.code, message: info.message, param: info.param, error: info }));
    },
    abortUpstream: opts.abortUpstream,
    onDone(aborted) {
      outcome.aborted = aborted;
      opts.onDone(outcome);
    },
  });
}
