// Turns a provider's chunk stream into the client's SSE bytes: pulled by the client (backpressure), usage tapped
// off the stream, the usage chunk shown only to clients that asked for it, upstream aborted when the client leaves.
import type { ChatChunk, Usage } from '../api/openai.js';
import { countTokens } from '../metering/tokens.js';
import { chunkText, UpstreamError, type ProviderName } from '../providers/types.js';
import { GatewayError } from '../errors.js';
import { eventPull, type SseSource } from '../http/sse-out.js';

const encoder = new TextEncoder();
const DONE = encoder.encode('data: [DONE]\n\n');

export interface StreamOutcome {
  usage: Usage | null;
  /** The deltas' text as received, tokenized only if the stream ends without usage (see countedTokens). */
  outputParts: string[];
  reasoningParts: string[];
  /** performance.now() of the first chunk written to the client. */
  firstChunkAt: number | null;
  error: UpstreamError | null;
  /** The client went away before the end. */
  aborted: boolean;
}

export interface SseStreamOptions {
  first: ChatChunk;
  rest: AsyncIterator<ChatChunk>;
  /** The client asked for `stream_options.include_usage`. */
  includeUsage: boolean;
  /** Abort the upstream request. */
  abortUpstream: () => void;
  onDone: (o: StreamOutcome) => void;
  provider: ProviderName;
}

export function errorEvent(e: UpstreamError | GatewayError): Uint8Array {
  const body =
    e instanceof GatewayError
      ? e.toBody()
      : { error: { message: e.message, type: e.type ?? 'api_error', param: null, code: e.code ?? 'upstream_error' } };
  return encoder.encode(`data: ${JSON.stringify(body)}\n\n`);
}

function tally(o: StreamOutcome, chunk: ChatChunk): void {
  if (chunk.usage) o.usage = chunk.usage;
  for (const ch of chunk.choices) {
    const d = ch.delta;
    if (d.content) o.outputParts.push(d.content);
    if (d.reasoning_content) o.reasoningParts.push(d.reasoning_content);
    if (d.tool_calls) for (const t of d.tool_calls) o.outputParts.push((t.function?.name ?? '') + (t.function?.arguments ?? ''));
  }
}

/** Output tokens of a stream that ended without usage: its deltas counted with the tokenizer (the rare path). */
export function countedTokens(o: Pick<StreamOutcome, 'outputParts' | 'reasoningParts'>): { output: number; reasoning: number } {
  const reasoning = countTokens(o.reasoningParts.join(''));
  return { output: countTokens(o.outputParts.join('')) + reasoning, reasoning };
}

/** With include_usage on (the gateway always asks for usage), OpenAI ends every chunk before the last with this. */
const USAGE_NULL_TAIL = ',"usage":null}';

/**
 * A chunk's event for this client; null when the client must not see it (usage chunk it did not ask for). The
 * upstream's own text of an unchanged chunk is passed through (a trailing `"usage":null` cut for a client that did not
 * ask for usage); any other chunk, or text spread over several `data:` lines, is serialised again.
 */
function serialize(chunk: ChatChunk, includeUsage: boolean): Uint8Array | null {
  let text = chunkText.get(chunk);
  if (!includeUsage) {
    if (chunk.choices.length === 0 && chunk.usage) return null;
    if ('usage' in chunk) {
      text = chunk.usage === null && text?.endsWith(USAGE_NULL_TAIL) ? `${text.slice(0, -USAGE_NULL_TAIL.length)}}` : undefined;
      delete chunk.usage;
    }
  }
  if (text === undefined || text.includes('\n')) text = JSON.stringify(chunk);
  return encoder.encode(`data: ${text}\n\n`);
}

/** The client's SSE bytes, pulled one event at a time (src/http/sse-out.ts writes them). */
export function sseSource(opts: SseStreamOptions): SseSource {
  const outcome: StreamOutcome = { usage: null, outputParts: [], reasoningParts: [], firstChunkAt: null, error: null, aborted: false };
  return eventPull<ChatChunk>({
    first: opts.first,
    rest: opts.rest,
    render(chunk) {
      tally(outcome, chunk);
      const bytes = serialize(chunk, opts.includeUsage); // null: a usage chunk this client did not ask for
      if (bytes) outcome.firstChunkAt ??= performance.now();
      return bytes;
    },
    end: DONE,
    fail(e) {
      const err =
        e instanceof UpstreamError ? e : new UpstreamError({ provider: opts.provider, kind: 'stream', message: 'The upstream stream failed.', cause: e });
      outcome.error = err;
      return errorEvent(err);
    },
    abortUpstream: opts.abortUpstream,
    onDone(aborted) {
      outcome.aborted = aborted;
      opts.onDone(outcome);
    },
  });
}
