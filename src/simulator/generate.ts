// Provider-neutral answer planning: deterministic text, reasoning, tool calls and JSON as pieces with exact token counts.
import { countTokens } from '../metering/tokens.js';
import { sampleFromSchema } from './schema-gen.js';
import { createRng, hashSeed, Lru, pick, splitInto, type Rng } from './util.js';

const VOCABULARY = (
  'the of and to in is that for it as with was on be by at this from have or one had not but what all were when ' +
  'we there can an your which their if do will each about how up out them then she many some so these would ' +
  'other into has more her two like see time could no make than first been its who now people my made over did ' +
  'down only way find use may water long little very after words called just where most know get through back much ' +
  'before go good new write our used me man too any day same right look think also around another come work ' +
  'three word must because does part even place well such here take why things help put years different away again ' +
  'off went old number great tell men say small every found still between name should home big give air line set ' +
  'own under read last never us left end along while next sound below something thought both few those ' +
  'always show large often asked house world going want school important until form food keep children'
).split(' ');

const REASONING_OPENERS = ['Let', 'First', 'Consider', 'Now', 'So'];

/** Token counts of the (finite) set of generated pieces, computed once each. */
const pieceTokens = new Map<string, number>();
export function tokensOf(piece: string): number {
  let n = pieceTokens.get(piece);
  if (n === undefined) {
    n = countTokens(piece);
    if (pieceTokens.size < 50_000) pieceTokens.set(piece, n);
  }
  return n;
}

export interface ToolSpec {
  name: string;
  /** JSON Schema (or Gemini Schema) of the arguments. */
  parameters: unknown;
}

export interface GenRequest {
  model: string;
  /** The serialized conversation: it decides the words, so stream and non-stream answers are equal. */
  conversation: string;
  /** The request's own seed parameter and the simulator's seed. */
  seed: number | null;
  simSeed: number;
  /** Output tokens when not limited by maxTokens. */
  defaultOutputTokens: number;
  maxTokens: number | null;
  /** Reasoning tokens to produce before the answer (inside maxTokens), or 0. */
  reasoningTokens: number;
  tools: ToolSpec[];
  /** Call a tool now (tools present, choice not none, last message not a tool result). */
  callTool: boolean;
  /** Tool to call; the first one when absent. */
  forcedTool: string | null;
  parallel: boolean;
  /** Text of the tool result the answer should mention, when the last message is one. */
  toolResult: string | null;
  /** Structured output: `schema` undefined for a plain JSON object. */
  json: { schema?: unknown } | null;
  blocked: boolean;
  /** Stop sequences: the text ends before the first one (not included), finish reason stop. */
  stop?: readonly string[];
  /** Which of several choices (OpenAI `n`, Gemini candidateCount); 0 is the answer a single-choice request gets. */
  choice?: number;
}

export interface PlannedToolCall {
  id: string;
  name: string;
  args: Record<string, unknown>;
  /** JSON text of args, and the pieces it is streamed in. */
  argsJson: string;
  argPieces: string[];
  /** countTokens(name) + the sum over argPieces. */
  tokens: number;
}

export interface ChatPlan {
  reasoningPieces: string[];
  reasoningPieceTokens: number[];
  reasoningTokens: number;
  textPieces: string[];
  textPieceTokens: number[];
  textTokens: number;
  toolCalls: PlannedToolCall[];
  toolTokens: number;
  finish: 'stop' | 'length' | 'tool_calls' | 'content_filter';
  /** The whole answer text (textPieces joined). */
  text: string;
}

/** Words in, pieces out: the first capitalised, sentences closed now and then. Every word alone is one o200k token, so the budget is met exactly. */
function wordPieces(rng: Rng, budget: number, opener?: string): { pieces: string[]; counts: number[]; total: number } {
  const pieces: string[] = [];
  const counts: number[] = [];
  let total = 0;
  let sinceStop = 0;
  while (total < budget) {
    let word = pieces.length === 0 && opener ? opener : pick(rng, VOCABULARY);
    if (pieces.length === 0 || sinceStop === 0) word = word[0].toUpperCase() + word.slice(1);
    sinceStop += 1;
    const endSentence = sinceStop >= 6 && rng() < 0.25;
    const lead = pieces.length === 0 ? '' : ' ';
    let piece = `${lead}${word}${endSentence ? '.' : ''}`;
    let n = tokensOf(piece);
    // A full stop costs a token: drop it rather than end short of the budget.
    if (endSentence && total + n > budget) {
      piece = `${lead}${word}`;
      n = tokensOf(piece);
    }
    if (endSentence) sinceStop = 0;
    if (total + n > budget) break;
    pieces.push(piece);
    counts.push(n);
    total += n;
  }
  return { pieces, counts, total };
}

/** Keep the longest prefix of pieces that fits `budget`; `cut` tells whether anything was dropped. */
function fitPieces(pieces: string[], budget: number): { pieces: string[]; counts: number[]; total: number; cut: boolean } {
  const out: string[] = [];
  const counts: number[] = [];
  let total = 0;
  for (const p of pieces) {
    const n = countTokens(p);
    if (total + n > budget) return { pieces: out, counts, total, cut: true };
    out.push(p);
    counts.push(n);
    total += n;
  }
  return { pieces: out, counts, total, cut: false };
}

function toolCallId(rng: Rng): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = 'call_';
  for (let i = 0; i < 24; i++) s += alphabet[Math.floor(rng() * alphabet.length)];
  return s;
}

function planToolCalls(req: GenRequest, rng: Rng): PlannedToolCall[] {
  const first = (req.forcedTool && req.tools.find((t) => t.name === req.forcedTool)) || req.tools[0];
  const chosen = req.parallel && !req.forcedTool && req.tools.length >= 2 ? [req.tools[0], req.tools[1]] : [first];
  return chosen.map((tool) => {
    const args = sampleFromSchema(tool.parameters, rng);
    const argsObj = typeof args === 'object' && args !== null && !Array.isArray(args) ? (args as Record<string, unknown>) : {};
    const argsJson = JSON.stringify(argsObj);
    const argPieces = splitInto(argsJson, 3);
    const tokens = countTokens(tool.name) + argPieces.reduce((s, p) => s + countTokens(p), 0);
    return { id: toolCallId(rng), name: tool.name, args: argsObj, argsJson, argPieces, tokens };
  });
}

function answerPieces(req: GenRequest, rng: Rng, budget: number): { pieces: string[]; counts: number[]; total: number; cut: boolean } {
  if (req.json) {
    const value = req.json.schema !== undefined ? sampleFromSchema(req.json.schema, rng) : { answer: wordPieces(rng, 8).pieces.join('') };
    return fitPieces(splitInto(JSON.stringify(value), Math.max(1, Math.ceil(JSON.stringify(value).length / 12))), budget);
  }
  if (req.toolResult !== null) {
    const snippet = req.toolResult.replace(/\s+/g, ' ').trim().slice(0, 160);
    const mention = `Tool result: ${snippet}.`.split(/(?= )/);
    const tail = wordPieces(rng, Math.max(0, req.defaultOutputTokens - mention.length)).pieces.map((p, i) => (i === 0 ? ` ${p}` : p));
    return fitPieces([...mention, ...tail], budget);
  }
  const natural = wordPieces(rng, Math.min(budget, req.defaultOutputTokens));
  return { ...natural, cut: budget < req.defaultOutputTokens };
}

type Pieces = { pieces: string[]; counts: number[]; total: number; cut: boolean };

/** Ends the text before the first stop sequence, as providers do (the sequence itself is not returned). */
function applyStop(ans: Pieces, stops: readonly string[]): Pieces {
  const text = ans.pieces.join('');
  let at = -1;
  for (const s of stops) {
    const i = s.length > 0 ? text.indexOf(s) : -1;
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  if (at < 0) return ans;
  const out: Pieces = { pieces: [], counts: [], total: 0, cut: false };
  let pos = 0;
  for (const p of ans.pieces) {
    const keep = p.length <= at - pos ? p : p.slice(0, Math.max(0, at - pos));
    if (keep.length > 0) {
      const n = countTokens(keep);
      out.pieces.push(keep);
      out.counts.push(n);
      out.total += n;
    }
    pos += p.length;
    if (pos >= at) break;
  }
  return out;
}

/** Identical requests repeat (benchmarks, retries, stream vs non-stream): plans are immutable, so reuse them. */
const plans = new Lru<string, ChatPlan>(512);
const MEMO_MAX_CHARS = 20_000;

/** Plans the whole answer; writers for each wire format only lay it out. Plans are shared: never mutate one. */
export function planChat(req: GenRequest): ChatPlan {
  if (req.conversation.length > MEMO_MAX_CHARS) return computePlan(req);
  const key = [
    req.model, req.choice ?? 0, req.seed, req.simSeed, req.defaultOutputTokens, req.maxTokens, req.reasoningTokens, req.callTool, req.forcedTool,
    req.parallel, req.blocked, req.json ? JSON.stringify(req.json) : '', (req.stop ?? []).join('\u0002'), req.toolResult ?? '\u0000', req.conversation,
  ].join('\u0001');
  let plan = plans.get(key);
  if (!plan) {
    plan = computePlan(req);
    plans.set(key, plan);
  }
  return plan;
}

function computePlan(req: GenRequest): ChatPlan {
  const seed = req.choice ? hashSeed(req.model, req.conversation, req.seed, req.simSeed, req.choice) : hashSeed(req.model, req.conversation, req.seed, req.simSeed);
  const rng = createRng(seed);
  const empty: ChatPlan = {
    reasoningPieces: [], reasoningPieceTokens: [], reasoningTokens: 0,
    textPieces: [], textPieceTokens: [], textTokens: 0,
    toolCalls: [], toolTokens: 0, finish: 'stop', text: '',
  };
  if (req.blocked) return { ...empty, finish: 'content_filter' };
  const limit = req.maxTokens ?? Number.POSITIVE_INFINITY;
  const reasoning = req.reasoningTokens > 0 ? wordPieces(createRng(seed ^ 0x5bd1e995), Math.min(limit, req.reasoningTokens), pick(rng, REASONING_OPENERS)) : null;
  const plan: ChatPlan = { ...empty };
  if (reasoning) Object.assign(plan, { reasoningPieces: reasoning.pieces, reasoningPieceTokens: reasoning.counts, reasoningTokens: reasoning.total });
  if (req.callTool && req.tools.length > 0) {
    const calls = planToolCalls(req, rng);
    return { ...plan, toolCalls: calls, toolTokens: calls.reduce((s, c) => s + c.tokens, 0), finish: 'tool_calls' };
  }
  const budget = limit - plan.reasoningTokens;
  const answer = applyStop(answerPieces(req, rng, budget), req.stop ?? []);
  const cutByReasoning = reasoning !== null && reasoning.total < req.reasoningTokens;
  return {
    ...plan,
    textPieces: answer.pieces,
    textPieceTokens: answer.counts,
    textTokens: answer.total,
    text: answer.pieces.join(''),
    finish: answer.cut || cutByReasoning ? 'length' : 'stop',
  };
}

/** Completion tokens of a plan as billed: visible text, tool calls and reasoning. */
export function completionTokensOf(plan: ChatPlan): number {
  return plan.textTokens + plan.toolTokens + plan.reasoningTokens;
}
