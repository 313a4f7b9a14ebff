// OpenAI-format chat (OpenAI and DeepSeek): request → plan, and plan → chat.completion body or chunk events.
import { createHash } from 'node:crypto';
import type { ChatCompletion, ChatRequest, ChunkDelta, FinishReason, Usage } from '../api/openai.js';
import { countPromptTokens, countTokens } from '../metering/tokens.js';
import { completionTokensOf, planChat, type ChatPlan, type GenRequest, type ToolSpec } from './generate.js';
import { cacheRules } from './prompt-cache.js';
import type { SimState } from './server.js';

export type OpenAIFlavor = 'openai' | 'deepseek';

export interface PreparedChat {
  flavor: OpenAIFlavor;
  model: string;
  /** The first choice (the only one unless the request set `n`). */
  plan: ChatPlan;
  /** All choices, `plan` first. */
  choices: ChatPlan[];
  promptTokens: number;
  cachedTokens: number;
  /** Reasoning shown as `reasoning_content` (DeepSeek) rather than only counted (OpenAI gpt-5). */
  visibleReasoning: boolean;
  /** Summed over all choices. */
  completionTokens: number;
  reasoningTokens: number;
}

const EFFORT_TOKENS: Record<string, number> = { none: 0, minimal: 8, low: 16, medium: 32, high: 64, xhigh: 96, max: 96 };

/** OpenAI reasoning models: hidden reasoning, billed as output. */
export function isOpenAIReasoningModel(model: string): boolean {
  return model.startsWith('gpt-5') || /^o\d/.test(model);
}

function partText(part: Record<string, unknown>): string {
  if (part.type === 'text' && typeof part.text === 'string') return part.text;
  if (part.type === 'refusal' && typeof part.refusal === 'string') return part.refusal;
  const img = part.image_url as { url?: unknown } | undefined;
  // Images stand for themselves by a short digest: a data URL may be megabytes, which we must not tokenise.
  if (part.type === 'image_url' && typeof img?.url === 'string') return `<image:${createHash('md5').update(img.url).digest('hex').slice(0, 12)}>`;
  return `<${String(part.type)}>`;
}

/** The prompt as one string: tools first (as OpenAI lays them out), then each message. Decides words and cache hits. */
export function serializeOpenAIPrompt(body: ChatRequest): string {
  let s = body.tools?.length ? JSON.stringify(body.tools) : '';
  if (body.response_format?.type === 'json_schema') s += JSON.stringify(body.response_format.json_schema);
  for (const m of body.messages) {
    s += `\n<|${m.role}|>`;
    const c = m.content;
    if (typeof c === 'string') s += c;
    else if (Array.isArray(c)) for (const p of c) s += partText(p as Record<string, unknown>);
    if (m.role === 'assistant' && m.tool_calls) s += JSON.stringify(m.tool_calls);
    if (m.role === 'tool') s += `<|${m.tool_call_id}|>`;
  }
  return s;
}

export function messageText(content: ChatRequest['messages'][number]['content']): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content.map((p) => (p.type === 'text' ? p.text : '')).join('');
}

function reasoningBudget(flavor: OpenAIFlavor, body: ChatRequest, thinks: boolean): number {
  if (!thinks) return 0;
  if (flavor === 'deepseek') return body.reasoning_effort === 'max' ? 64 : body.reasoning_effort === 'low' ? 16 : 32;
  return EFFORT_TOKENS[body.reasoning_effort ?? 'medium'] ?? 32;
}

/** Everything about the answer, decided before a byte is written: stream and non-stream share it. */
export function prepareOpenAIChat(state: SimState, flavor: OpenAIFlavor, body: ChatRequest, apiKey: string): PreparedChat {
  const conversation = serializeOpenAIPrompt(body);
  // Memo key: exactly what countPromptTokens reads, so a hit can never give another count.
  const memoKey = conversation.length < 20_000 ? JSON.stringify([body.messages, body.tools ?? null, body.response_format ?? null]) : null;
  let promptTokens = memoKey ? state.promptTokens.get(memoKey) : undefined;
  if (promptTokens === undefined) {
    promptTokens = countPromptTokens(body);
    if (memoKey) state.promptTokens.set(memoKey, promptTokens);
  }
  const cachedTokens = state.promptCache.lookup(`${flavor}\u0000${body.model}\u0000${apiKey}`, conversation, promptTokens, cacheRules[flavor]);

  const entry = state.models.find(flavor, body.model);
  const thinks =
    flavor === 'deepseek'
      ? body.thinking?.type !== 'disabled' && (entry ? entry.capabilities.reasoning : true)
      : isOpenAIReasoningModel(body.model);
  const last = body.messages[body.messages.length - 1];
  const lastText = messageText(last.content);
  const tools: ToolSpec[] = (body.tools ?? []).map((t) => ({ name: t.function.name, parameters: t.function.parameters ?? {} }));
  const choice = body.tool_choice;
  const rf = body.response_format;
  const gen: GenRequest = {
    model: body.model,
    conversation,
    seed: body.seed ?? null,
    simSeed: state.settings.seed,
    defaultOutputTokens: state.settings.defaultOutputTokens,
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? null,
    reasoningTokens: reasoningBudget(flavor, body, thinks),
    tools,
    callTool: tools.length > 0 && choice !== 'none' && last.role !== 'tool',
    forcedTool: typeof choice === 'object' && choice ? choice.function.name : null,
    parallel: body.parallel_tool_calls !== false && lastText.includes('[[sim:parallel]]'),
    toolResult: last.role === 'tool' ? lastText : null,
    json: rf?.type === 'json_object' ? {} : rf?.type === 'json_schema' ? { schema: rf.json_schema.schema ?? {} } : null,
    blocked: lastText.includes('[[sim:block]]'),
    stop: typeof body.stop === 'string' ? [body.stop] : (body.stop ?? []),
  };
  const choices = Array.from({ length: Math.max(1, body.n ?? 1) }, (_, choice) => planChat({ ...gen, choice }));
  return {
    flavor,
    model: body.model,
    plan: choices[0],
    choices,
    promptTokens,
    cachedTokens,
    visibleReasoning: flavor === 'deepseek',
    completionTokens: choices.reduce((n, c) => n + completionTokensOf(c), 0),
    reasoningTokens: choices.reduce((n, c) => n + c.reasoningTokens, 0),
  };
}

export function usageOf(p: PreparedChat, completionTokens = p.completionTokens, reasoningTokens = p.reasoningTokens): Usage {
  const usage: Usage = {
    prompt_tokens: p.promptTokens,
    completion_tokens: completionTokens,
    total_tokens: p.promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: p.cachedTokens },
    completion_tokens_details: { reasoning_tokens: reasoningTokens },
  };
  if (p.flavor === 'deepseek') {
    usage.prompt_cache_hit_tokens = p.cachedTokens;
    usage.prompt_cache_miss_tokens = p.promptTokens - p.cachedTokens;
  } else {
    usage.prompt_tokens_details = { cached_tokens: p.cachedTokens, audio_tokens: 0 };
    const details = { reasoning_tokens: reasoningTokens, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 };
    usage.completion_tokens_details = details;
  }
  return usage;
}

function choiceMessage(p: PreparedChat, plan: ChatPlan): ChatCompletion['choices'][number]['message'] {
  const hasTools = plan.toolCalls.length > 0;
  const message: ChatCompletion['choices'][number]['message'] = {
    role: 'assistant',
    content: hasTools || plan.finish === 'content_filter' ? null : plan.text,
  };
  if (p.visibleReasoning && plan.reasoningPieces.length > 0) message.reasoning_content = plan.reasoningPieces.join('');
  if (hasTools) {
    message.tool_calls = plan.toolCalls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.argsJson } }));
  }
  if (p.flavor === 'openai') Object.assign(message, { refusal: null, annotations: [] });
  return message;
}

export function completionBody(p: PreparedChat, id: string, created: number): ChatCompletion {
  const body: ChatCompletion = {
    id,
    object: 'chat.completion',
    created,
    model: p.model,
    choices: p.choices.map((plan, index) => ({ index, message: choiceMessage(p, plan), finish_reason: plan.finish, logprobs: null })),
    usage: usageOf(p),
  };
  if (p.flavor === 'openai') Object.assign(body, { service_tier: 'default', system_fingerprint: 'fp_sim0001' });
  else body.system_fingerprint = 'fp_sim_deepseek';
  return body;
}

/** One stream event with the tokens it carries (for records of streams that end early). */
export interface ChunkEvent {
  data: string;
  tokens: number;
  reasoning: number;
}

/** Serialized `choices[0]` of each chunk of one choice, per plan: identical requests reuse them (the benchmark's hot path). */
interface ChoiceChunk {
  json: string;
  tokens: number;
  reasoning: number;
}
const choiceChunkCache = new WeakMap<ChatPlan, Map<string, ChoiceChunk[]>>();

/** The chunk events of a stream, without [DONE]; usage chunk only when asked for. Several choices follow one another. */
export function chunkEvents(p: PreparedChat, id: string, created: number, includeUsage: boolean): ChunkEvent[] {
  const extra = p.flavor === 'openai' ? ',"service_tier":"default","system_fingerprint":"fp_sim0001"' : ',"system_fingerprint":"fp_sim_deepseek"';
  const head = `{"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(p.model)}${extra},"choices":[`;
  const tail = includeUsage ? '],"usage":null}' : ']}';
  const events: ChunkEvent[] = [];
  p.choices.forEach((plan, index) => {
    for (const c of choiceChunks(p, plan, index)) events.push({ data: head + c.json + tail, tokens: c.tokens, reasoning: c.reasoning });
  });
  if (includeUsage) events.push({ data: `${head}],"usage":${JSON.stringify(usageOf(p))}}`, tokens: 0, reasoning: 0 });
  return events;
}

function choiceChunks(p: PreparedChat, plan: ChatPlan, index: number): ChoiceChunk[] {
  const key = `${p.flavor}:${p.visibleReasoning}:${index}`;
  let byKey = choiceChunkCache.get(plan);
  const hit = byKey?.get(key);
  if (hit) return hit;
  const out: ChoiceChunk[] = [];
  choiceEvents(p, plan, (delta, finish, tokens, reasoning) => {
    out.push({ json: JSON.stringify({ index, delta, logprobs: null, finish_reason: finish }), tokens, reasoning });
  });
  if (!byKey) choiceChunkCache.set(plan, (byKey = new Map()));
  byKey.set(key, out);
  return out;
}

type PushDelta = (delta: ChunkDelta, finish: FinishReason | null, tokens: number, reasoning: number) => void;

function choiceEvents(p: PreparedChat, plan: ChatPlan, push: PushDelta): void {
  // Hidden reasoning (OpenAI) is spent before the first chunk, so that chunk carries its tokens.
  const hidden = p.visibleReasoning ? 0 : plan.reasoningTokens;
  push(p.flavor === 'openai' ? { role: 'assistant', content: '', refusal: null } : { role: 'assistant', content: '' }, null, hidden, hidden);
  if (p.visibleReasoning) {
    plan.reasoningPieces.forEach((piece, i) => push({ content: null, reasoning_content: piece }, null, plan.reasoningPieceTokens[i], plan.reasoningPieceTokens[i]));
  }
  if (plan.toolCalls.length > 0) {
    plan.toolCalls.forEach((c, index) => {
      push({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }] }, null, countTokens(c.name), 0);
      for (const piece of c.argPieces) push({ tool_calls: [{ index, function: { arguments: piece } }] }, null, countTokens(piece), 0);
    });
  } else {
    plan.textPieces.forEach((piece, i) => push(p.visibleReasoning ? { content: piece, reasoning_content: null } : { content: piece }, null, plan.textPieceTokens[i], 0));
  }
  push({}, plan.finish, 0, 0);
}
