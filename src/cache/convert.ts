// Turns a cached answer into the other format: a stored stream into one completion (JSON client), a stored completion
// into chunks (streaming client), so that a request is a hit whichever way the first one was asked.
import type { AssistantMessage, ChatChunk, ChatCompletion, ChunkDelta, FinishReason, ToolCall } from '../api/openai.js';

/** Only complete answers are worth replaying: not `length` (cut short), not `content_filter`, not an unfinished one. */
export function finishedCleanly(reasons: ReadonlyArray<FinishReason | null>): boolean {
  return reasons.length > 0 && reasons.every((r) => r === 'stop' || r === 'tool_calls' || r === 'function_call');
}

interface ChoiceAcc {
  content: string | null;
  reasoning: string | null;
  refusal: string | null;
  tools: ToolCall[];
  finish: FinishReason | null;
}

const append = (a: string | null, b: string | null | undefined) => (b == null ? a : (a ?? '') + b);

function addDelta(acc: ChoiceAcc, d: ChunkDelta): void {
  acc.content = append(acc.content, d.content);
  acc.reasoning = append(acc.reasoning, d.reasoning_content);
  acc.refusal = append(acc.refusal, d.refusal);
  for (const t of d.tool_calls ?? []) {
    const slot = (acc.tools[t.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } });
    if (t.id) slot.id = t.id;
    if (t.function?.name) slot.function.name += t.function.name;
    if (t.function?.arguments) slot.function.arguments += t.function.arguments;
  }
}

/** The finish reasons of a chunk stream, one per choice seen. */
export function streamFinishReasons(chunks: readonly ChatChunk[]): Array<FinishReason | null> {
  const byIndex = new Map<number, FinishReason | null>();
  for (const c of chunks) for (const ch of c.choices) byIndex.set(ch.index, ch.finish_reason ?? byIndex.get(ch.index) ?? null);
  return [...byIndex.values()];
}

export function chunksToCompletion(chunks: readonly ChatChunk[]): ChatCompletion {
  const first = chunks[0];
  const accs = new Map<number, ChoiceAcc>();
  let usage: ChatCompletion['usage'] = null;
  for (const c of chunks) {
    if (c.usage) usage = c.usage;
    for (const ch of c.choices) {
      let acc = accs.get(ch.index);
      if (!acc) accs.set(ch.index, (acc = { content: null, reasoning: null, refusal: null, tools: [], finish: null }));
      addDelta(acc, ch.delta);
      if (ch.finish_reason) acc.finish = ch.finish_reason;
    }
  }
  const choices = [...accs.entries()]
    .sort(([a], [b]) => a - b)
    .map(([index, a]) => {
      const message: AssistantMessage = { role: 'assistant', content: a.content, refusal: a.refusal };
      if (a.reasoning !== null) message.reasoning_content = a.reasoning;
      const tools = a.tools.filter((t) => t !== undefined);
      if (tools.length) message.tool_calls = tools;
      return { index, message, finish_reason: a.finish, logprobs: null };
    });
  return {
    id: first.id,
    object: 'chat.completion',
    created: first.created,
    model: first.model,
    choices,
    usage,
    ...(first.system_fingerprint != null ? { system_fingerprint: first.system_fingerprint } : {}),
  };
}

/** Chunks as OpenAI streams them: role first, reasoning, content, tool calls, finish; then one usage chunk. */
export function completionToChunks(c: ChatCompletion): ChatChunk[] {
  const head = { id: c.id, object: 'chat.completion.chunk' as const, created: c.created, model: c.model, system_fingerprint: c.system_fingerprint ?? null };
  const out: ChatChunk[] = [];
  const push = (index: number, delta: ChunkDelta, finish: FinishReason | null = null) =>
    out.push({ ...head, choices: [{ index, delta, finish_reason: finish, logprobs: null }] });
  for (const ch of c.choices) {
    const m = ch.message;
    push(ch.index, { role: 'assistant', content: '', refusal: null });
    if (m.reasoning_content) push(ch.index, { reasoning_content: m.reasoning_content });
    if (m.content) push(ch.index, { content: m.content });
    if (m.refusal) push(ch.index, { refusal: m.refusal });
    if (m.tool_calls?.length) {
      push(ch.index, {
        tool_calls: m.tool_calls.map((t, i) => ({ index: i, id: t.id, type: 'function' as const, function: { name: t.function.name, arguments: t.function.arguments } })),
      });
    }
    push(ch.index, {}, ch.finish_reason);
  }
  if (c.usage) out.push({ ...head, choices: [], usage: c.usage });
  return out;
}
