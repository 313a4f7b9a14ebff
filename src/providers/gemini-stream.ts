// Translates a Gemini streamGenerateContent SSE stream into OpenAI chat chunks (role first, tool call deltas, usage last).
import type { ChatChunk, ChunkDelta, FinishReason, ToolCallDelta, Usage } from '../api/openai.js';
import { mapFinishReason, newCompletionId, summarizeParts, usageFromGemini } from './gemini-response.js';
import type { GeminiResponse } from './gemini-wire.js';
import { UpstreamError } from './types.js';
import { invalidResponse, tryParseJson } from './upstream-errors.js';

export interface StreamTranslateOptions {
  model: string;
  includeThoughts: boolean;
  /** Turns an in-stream `{"error":…}` event into the error to throw. */
  errorFromEvent(event: unknown): UpstreamError;
  created?: number;
}

interface ChoiceState {
  started: boolean;
  calls: number;
  finished: boolean;
}

/** Stateful translation of one stream; exposed as a class-free closure so each stream owns its own state. */
export function createGeminiChunkTranslator(opts: StreamTranslateOptions) {
  let id: string | null = null;
  let model = opts.model;
  let usage: Usage | null = null;
  const created = opts.created ?? Math.floor(Date.now() / 1000);
  const choices = new Map<number, ChoiceState>();

  const chunk = (index: number, delta: ChunkDelta, finish: FinishReason | null): ChatChunk => ({
    id: id ?? '',
    object: 'chat.completion.chunk',
    created,
    model,
    choices: [{ index, delta, finish_reason: finish, logprobs: null }],
  });

  function state(index: number, out: ChatChunk[]): ChoiceState {
    let st = choices.get(index);
    if (!st) {
      st = { started: false, calls: 0, finished: false };
      choices.set(index, st);
    }
    if (!st.started) {
      st.started = true;
      out.push(chunk(index, { role: 'assistant', content: '' }, null));
    }
    return st;
  }

  /** OpenAI chunks for one Gemini event. */
  function push(event: GeminiResponse): ChatChunk[] {
    const out: ChatChunk[] = [];
    if (id === null) id = newCompletionId(event.responseId);
    if (event.modelVersion) model = event.modelVersion;
    if (event.usageMetadata) usage = usageFromGemini(event.usageMetadata);
    const candidates = event.candidates ?? [];
    if (candidates.length === 0 && event.promptFeedback?.blockReason) {
      const st = state(0, out);
      if (!st.finished) out.push(chunk(0, {}, 'content_filter'));
      st.finished = true;
      return out;
    }
    candidates.forEach((c, position) => {
      const index = c.index ?? position;
      const st = state(index, out);
      const s = summarizeParts(c.content?.parts, { seed: event.responseId, candidate: index, firstCall: st.calls });
      const delta: ChunkDelta = {};
      if (opts.includeThoughts && s.reasoning !== '') delta.reasoning_content = s.reasoning;
      if (s.text !== '') delta.content = s.text;
      if (s.toolCalls.length > 0) {
        delta.tool_calls = s.toolCalls.map((call, k): ToolCallDelta => ({ index: st.calls + k, ...call }));
        st.calls += s.toolCalls.length;
      }
      if (Object.keys(delta).length > 0) out.push(chunk(index, delta, null));
      if (c.finishReason && !st.finished) {
        st.finished = true;
        out.push(chunk(index, {}, mapFinishReason(c.finishReason, st.calls > 0)));
      }
    });
    return out;
  }

  /** The final usage chunk (choices: []); throws when the stream stopped before any choice finished. */
  function end(): ChatChunk[] {
    const states = [...choices.values()];
    if (states.length === 0 || states.some((s) => !s.finished)) {
      throw new UpstreamError({ provider: 'gemini', kind: 'stream', message: 'gemini: stream ended before a finishReason' });
    }
    if (!usage) return [];
    return [{ id: id ?? '', object: 'chat.completion.chunk', created, model, choices: [], usage }];
  }

  return { push, end };
}

/** SSE payloads (grouped per network chunk, see sseBatches) → OpenAI chunks. */
export async function* translateGeminiStream(batches: AsyncIterable<string[]>, opts: StreamTranslateOptions): AsyncGenerator<ChatChunk> {
  const t = createGeminiChunkTranslator(opts);
  for await (const batch of batches) {
    for (const data of batch) {
      const event = tryParseJson(data);
      if (!event || typeof event !== 'object') throw invalidResponse('gemini', `unparseable stream event (${data.slice(0, 120)})`);
      if ('error' in event && (event as { error: unknown }).error) throw opts.errorFromEvent(event);
      yield* t.push(event as GeminiResponse);
    }
  }
  yield* t.end();
}
