// Gemini generateContent: request → plan (prompt tokens, thinking, tools, JSON), thought signatures, and plan → responses.
import { createHash, createHmac } from 'node:crypto';
import { countTokens } from '../metering/tokens.js';
import { planChat, type ChatPlan, type GenRequest, type ToolSpec } from './generate.js';
import { cacheRules } from './prompt-cache.js';
import type { SimState } from './server.js';
import { canonicalJson, isRecord } from './util.js';

/** Gemini bills an image at a fixed size (258 tokens for a small image); we use that flat count for every one. */
export const GEMINI_IMAGE_TOKENS = 258;
/** Gemini's documented escape hatch for function calls that did not come from Gemini. */
export const SKIP_SIGNATURE = 'skip_thought_signature_validator';

export const geminiFinishReasons = [
  'STOP', 'MAX_TOKENS', 'SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'LANGUAGE',
  'MALFORMED_FUNCTION_CALL', 'UNEXPECTED_TOOL_CALL', 'TOO_MANY_TOOL_CALLS', 'OTHER',
] as const;
const NO_CONTENT_FINISH = new Set(['MALFORMED_FUNCTION_CALL', 'UNEXPECTED_TOOL_CALL', 'TOO_MANY_TOOL_CALLS']);

export interface GeminiPart {
  text?: string;
  thought?: boolean;
  thoughtSignature?: string;
  inlineData?: { mimeType?: string; data?: string };
  fileData?: { mimeType?: string; fileUri?: string };
  functionCall?: { id?: string; name?: string; args?: unknown };
  functionResponse?: { id?: string; name?: string; response?: unknown };
}
export interface GeminiContent {
  role?: string;
  parts?: GeminiPart[];
}

export interface GeminiCandidate {
  plan: ChatPlan;
  finishReason: string;
  /** Text parts are emitted; false for the forced tool-call failure reasons. */
  withContent: boolean;
}

export interface PreparedGemini {
  model: string;
  /** One per generationConfig.candidateCount (default 1). */
  candidates: GeminiCandidate[];
  promptTokens: number;
  cachedTokens: number;
  showThoughts: boolean;
  blocked: boolean;
}

export function thoughtSignature(secret: string, name: string, args: unknown): string {
  return createHmac('sha256', secret).update(`${name}\u0000${canonicalJson(args ?? {})}`).digest('base64');
}

function partsOf(c: unknown): GeminiPart[] {
  return isRecord(c) && Array.isArray(c.parts) ? (c.parts.filter(isRecord) as GeminiPart[]) : [];
}

/**
 * Gemini 3 checks that each function call of the current turn (after the last user text) comes back with the
 * signature it was issued with. Stateless: the signature is an HMAC of name and arguments. Returns an error message.
 */
export function checkSignatures(contents: GeminiContent[], secret: string): string | null {
  let start = 0;
  contents.forEach((c, i) => {
    if (c.role !== 'model' && partsOf(c).some((p) => typeof p.text === 'string')) start = i + 1;
  });
  for (let i = start; i < contents.length; i++) {
    if (contents[i].role !== 'model') continue;
    for (const [pos, p] of partsOf(contents[i]).entries()) {
      if (!p.functionCall) continue;
      const name = p.functionCall.name ?? '';
      const sig = p.thoughtSignature;
      if (sig === SKIP_SIGNATURE || sig === thoughtSignature(secret, name, p.functionCall.args)) continue;
      return (
        `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, ` +
        `and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${name}\` , ` +
        `position ${pos + 1}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`
      );
    }
  }
  return null;
}

function partText(p: GeminiPart): string {
  if (typeof p.text === 'string') return p.text;
  if (p.inlineData) return `<image:${createHash('md5').update(p.inlineData.data ?? '').digest('hex').slice(0, 12)}>`;
  if (p.fileData) return `<file:${p.fileData.fileUri ?? ''}>`;
  if (p.functionCall) return JSON.stringify({ name: p.functionCall.name, args: p.functionCall.args });
  if (p.functionResponse) return JSON.stringify({ name: p.functionResponse.name, response: p.functionResponse.response });
  return '';
}

function partTokens(p: GeminiPart): number {
  if (p.inlineData || p.fileData) return GEMINI_IMAGE_TOKENS;
  return countTokens(partText(p));
}

export function geminiTools(body: Record<string, unknown>): ToolSpec[] {
  const out: ToolSpec[] = [];
  for (const t of Array.isArray(body.tools) ? body.tools : []) {
    if (!isRecord(t) || !Array.isArray(t.functionDeclarations)) continue;
    for (const d of t.functionDeclarations) {
      if (isRecord(d) && typeof d.name === 'string') out.push({ name: d.name, parameters: d.parametersJsonSchema ?? d.parameters ?? {} });
    }
  }
  return out;
}

/** Prompt tokens and the serialized prompt: system instruction, tool declarations, then every part of every content. */
function promptOf(body: Record<string, unknown>, contents: GeminiContent[]): { conversation: string; tokens: number } {
  let conversation = '';
  let tokens = 0;
  for (const p of partsOf(body.systemInstruction)) {
    conversation += partText(p);
    tokens += partTokens(p);
  }
  if (Array.isArray(body.tools) && body.tools.length > 0) {
    const json = JSON.stringify(body.tools);
    conversation += json;
    tokens += countTokens(json);
  }
  for (const c of contents) {
    conversation += `\n<|${c.role ?? 'user'}|>`;
    for (const p of partsOf(c)) {
      conversation += partText(p);
      tokens += partTokens(p);
    }
  }
  return { conversation, tokens };
}

function thinkingTokens(gen: Record<string, unknown>): number {
  const tc = isRecord(gen.thinkingConfig) ? gen.thinkingConfig : {};
  if (tc.thinkingBudget === 0) return 0;
  if (typeof tc.thinkingBudget === 'number' && tc.thinkingBudget > 0) return Math.min(tc.thinkingBudget, 64);
  if (typeof tc.thinkingLevel === 'string') return tc.thinkingLevel.toLowerCase() === 'low' ? 16 : 48;
  return 32;
}

export function lastUserText(contents: GeminiContent[]): string {
  for (let i = contents.length - 1; i >= 0; i--) {
    if (contents[i].role === 'model') continue;
    const t = partsOf(contents[i]).map((p) => p.text ?? '').join('');
    if (t) return t;
  }
  return '';
}

export function prepareGemini(state: SimState, model: string, body: Record<string, unknown>, contents: GeminiContent[], apiKey: string): PreparedGemini {
  const { conversation, tokens: promptTokens } = promptOf(body, contents);
  const cachedTokens = state.promptCache.lookup(`gemini\u0000${model}\u0000${apiKey}`, conversation, promptTokens, cacheRules.gemini);
  const gen = isRecord(body.generationConfig) ? body.generationConfig : {};
  const fcc = isRecord(body.toolConfig) && isRecord(body.toolConfig.functionCallingConfig) ? body.toolConfig.functionCallingConfig : {};
  const allowed = Array.isArray(fcc.allowedFunctionNames) ? fcc.allowedFunctionNames.filter((x): x is string => typeof x === 'string') : [];
  const tools = geminiTools(body);
  const last = contents[contents.length - 1];
  const responses = partsOf(last).filter((p) => p.functionResponse);
  const userText = lastUserText(contents);
  const json = gen.responseMimeType === 'application/json' ? { schema: gen.responseJsonSchema ?? gen.responseSchema } : null;
  const blocked = userText.includes('[[sim:block]]');
  const req: GenRequest = {
    model,
    conversation,
    seed: typeof gen.seed === 'number' ? gen.seed : null,
    simSeed: state.settings.seed,
    defaultOutputTokens: state.settings.defaultOutputTokens,
    maxTokens: typeof gen.maxOutputTokens === 'number' ? gen.maxOutputTokens : null,
    reasoningTokens: thinkingTokens(gen),
    tools,
    callTool: tools.length > 0 && fcc.mode !== 'NONE' && responses.length === 0,
    forcedTool: allowed[0] ?? null,
    parallel: userText.includes('[[sim:parallel]]'),
    toolResult: responses.length > 0 ? responses.map((p) => JSON.stringify(p.functionResponse?.response ?? {})).join(' ') : null,
    json: json && json.schema === undefined ? {} : json,
    blocked,
    stop: Array.isArray(gen.stopSequences) ? gen.stopSequences.filter((x): x is string => typeof x === 'string') : [],
  };
  const forced = /\[\[sim:finish=([A-Z_]+)\]\]/.exec(userText)?.[1];
  const count = typeof gen.candidateCount === 'number' && gen.candidateCount > 1 ? Math.min(8, Math.floor(gen.candidateCount)) : 1;
  const candidates = Array.from({ length: count }, (_, choice) => {
    const plan = planChat({ ...req, choice });
    const natural = plan.finish === 'length' ? 'MAX_TOKENS' : plan.finish === 'content_filter' ? 'SAFETY' : 'STOP';
    const finishReason = forced && (geminiFinishReasons as readonly string[]).includes(forced) ? forced : natural;
    return { plan, finishReason, withContent: !NO_CONTENT_FINISH.has(finishReason) };
  });
  const tc = isRecord(gen.thinkingConfig) ? gen.thinkingConfig : {};
  return { model, candidates, promptTokens, cachedTokens, showThoughts: tc.includeThoughts === true, blocked };
}

export interface GeminiUsage {
  promptTokenCount: number;
  candidatesTokenCount?: number;
  totalTokenCount: number;
  cachedContentTokenCount?: number;
  thoughtsTokenCount?: number;
  promptTokensDetails?: Array<{ modality: string; tokenCount: number }>;
}

export function geminiUsage(p: PreparedGemini, candidates: number, thoughts: number): GeminiUsage {
  const u: GeminiUsage = { promptTokenCount: p.promptTokens, candidatesTokenCount: candidates, totalTokenCount: p.promptTokens + candidates + thoughts };
  if (p.cachedTokens > 0) u.cachedContentTokenCount = p.cachedTokens;
  if (thoughts > 0) u.thoughtsTokenCount = thoughts;
  u.promptTokensDetails = [{ modality: 'TEXT', tokenCount: p.promptTokens }];
  return u;
}

/** Billed visible output of one candidate (text or calls; thoughts are counted apart). */
export function candidateTokens(p: PreparedGemini, c: GeminiCandidate): number {
  if (p.blocked || !c.withContent) return 0;
  return c.plan.toolCalls.length > 0 ? c.plan.toolTokens : c.plan.textTokens;
}

/** candidatesTokenCount and thoughtsTokenCount of the whole answer. */
export function geminiOutputTokens(p: PreparedGemini): { candidates: number; thoughts: number } {
  let candidates = 0;
  let thoughts = 0;
  for (const c of p.candidates) {
    candidates += candidateTokens(p, c);
    thoughts += c.plan.reasoningTokens;
  }
  return { candidates, thoughts };
}
