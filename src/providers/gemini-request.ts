// Translates an OpenAI Chat Completions request into a Gemini generateContent body (messages, tools, parameters, reasoning).
import type { ChatMessage, ChatRequest, ContentPart } from '../api/openai.js';
import { GatewayError } from '../errors.js';
import { signatureFromToolCallId } from './gemini-ids.js';
import type { GeminiContent, GeminiGenerationConfig, GeminiPart, GeminiRequest, GeminiThinkingConfig } from './gemini-wire.js';
import { parseDataUrl, type InlineImage } from './image-fetch.js';

export interface GeminiRequestOptions {
  /** Upstream model id: Gemini 3 takes thinkingLevel, 2.5 takes thinkingBudget. */
  model: string;
  /** Turns an http(s) image URL into bytes, or throws GatewayError; `param` names the part for the error. */
  resolveImageUrl(url: string, param: string): Promise<InlineImage>;
}

export interface BuiltGeminiRequest {
  body: GeminiRequest;
  /** The client asked for reasoning: thought parts become reasoning_content. */
  includeThoughts: boolean;
}

function unsupported(param: string, why: string): GatewayError {
  return new GatewayError('unsupported_parameter', `Gemini cannot honour ${param}: ${why}`, { param });
}

/** Parameters that change the result and have no Gemini equivalent: rejected rather than silently dropped. */
export function assertGeminiSupports(req: ChatRequest): void {
  const r = req as Record<string, unknown>;
  if (req.logprobs === true) throw unsupported('logprobs', 'log probabilities are not translated');
  if (req.top_logprobs != null && req.top_logprobs > 0) throw unsupported('top_logprobs', 'log probabilities are not translated');
  const bias = r.logit_bias;
  if (bias && typeof bias === 'object' && Object.keys(bias).length > 0) throw unsupported('logit_bias', 'no token bias in the Gemini API');
  if (r.audio != null) throw unsupported('audio', 'audio output is not supported');
  const modalities = r.modalities;
  if (Array.isArray(modalities) && modalities.some((m) => m !== 'text')) throw unsupported('modalities', 'only text output is supported');
  if (r.prediction != null) throw unsupported('prediction', 'predicted outputs are OpenAI-only');
  if (r.web_search_options != null) throw unsupported('web_search_options', 'web search is not translated');
  if (r.functions != null) throw unsupported('functions', 'use tools instead of the legacy functions field');
  if (r.function_call != null) throw unsupported('function_call', 'use tool_choice instead of the legacy function_call field');
  if (r.verbosity != null) throw unsupported('verbosity', 'no verbosity control in the Gemini API');
}

function textOf(content: ChatMessage['content']): string {
  if (content == null) return '';
  if (typeof content === 'string') return content;
  return content.map((p) => (p.type === 'text' ? p.text : p.type === 'refusal' ? p.refusal : '')).join('');
}

async function userPart(part: ContentPart, param: string, opts: GeminiRequestOptions): Promise<GeminiPart> {
  switch (part.type) {
    case 'text':
      return { text: part.text };
    case 'image_url': {
      const url = part.image_url.url;
      if (url.startsWith('data:')) {
        const inline = parseInlineData(url, `${param}.image_url`);
        return { inlineData: inline };
      }
      return { inlineData: await opts.resolveImageUrl(url, `${param}.image_url`) };
    }
    case 'input_audio': {
      const format = part.input_audio.format;
      return { inlineData: { mimeType: format === 'mp3' ? 'audio/mp3' : `audio/${format}`, data: part.input_audio.data } };
    }
    case 'file': {
      const data = (part.file as { file_data?: unknown }).file_data;
      if (typeof data === 'string' && data.startsWith('data:')) return { inlineData: parseInlineData(data, `${param}.file`) };
      throw unsupported(`${param}.file`, 'only inline file_data (a data: URL) can be sent to Gemini');
    }
    case 'refusal':
      return { text: part.refusal };
  }
}

function parseInlineData(url: string, param: string): InlineImage {
  const inline = parseDataUrl(url);
  if (!inline) throw new GatewayError('invalid_request', `${param} must be a base64 data: URL`, { param });
  return inline;
}

function parseArguments(args: string, param: string): Record<string, unknown> {
  if (args.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(args);
  } catch {
    throw new GatewayError('invalid_request', `${param} is not valid JSON`, { param });
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new GatewayError('invalid_request', `${param} must be a JSON object`, { param });
  }
  return parsed as Record<string, unknown>;
}

/** A tool result: a JSON object is passed as the response itself, anything else is wrapped as {result: "..."}. */
function toolResponse(content: ChatMessage['content']): Record<string, unknown> {
  const text = textOf(content);
  const t = text.trim();
  if (t.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(t);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    } catch {
      // not JSON: wrapped below
    }
  }
  return { result: text };
}

function assistantParts(m: Extract<ChatMessage, { role: 'assistant' }>, i: number): GeminiPart[] {
  const parts: GeminiPart[] = [];
  const text = textOf(m.content);
  if (text !== '') parts.push({ text });
  (m.tool_calls ?? []).forEach((call, j) => {
    const part: GeminiPart = {
      functionCall: { name: call.function.name, args: parseArguments(call.function.arguments, `messages[${i}].tool_calls[${j}].function.arguments`) },
    };
    const signature = signatureFromToolCallId(call.id);
    if (signature) part.thoughtSignature = signature;
    parts.push(part);
  });
  // Calls that did not come from Gemini (another provider served that turn) carry no signature; Gemini 3 would refuse
  // the turn, so its first call gets the documented dummy that skips validation. Gemini's own turns are left as they came.
  const calls = parts.filter((p) => p.functionCall);
  if (calls.length > 0 && calls.every((p) => p.thoughtSignature === undefined)) calls[0].thoughtSignature = FOREIGN_CALL_SIGNATURE;
  return parts;
}

/** Gemini's documented placeholder for function calls it did not produce (ai.google.dev/gemini-api/docs/thought-signatures). */
export const FOREIGN_CALL_SIGNATURE = 'skip_thought_signature_validator';

function pushContent(contents: GeminiContent[], role: GeminiContent['role'], parts: GeminiPart[]): void {
  if (parts.length === 0) return;
  const last = contents[contents.length - 1];
  // Gemini wants alternating turns and all responses to one step's calls in one turn: merge same-role neighbours.
  if (last && last.role === role) last.parts.push(...parts);
  else contents.push({ role, parts });
}

export async function buildContents(
  messages: ChatMessage[],
  opts: GeminiRequestOptions,
): Promise<{ contents: GeminiContent[]; system: string[] }> {
  const names = new Map<string, string>();
  for (const m of messages) if (m.role === 'assistant') for (const c of m.tool_calls ?? []) names.set(c.id, c.function.name);
  const contents: GeminiContent[] = [];
  const system: string[] = [];
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (m.role === 'system' || m.role === 'developer') {
      const text = textOf(m.content);
      if (text !== '') system.push(text);
    } else if (m.role === 'user') {
      const parts =
        typeof m.content === 'string'
          ? [{ text: m.content }]
          : await Promise.all(m.content.map((p, j) => userPart(p, `messages[${i}].content[${j}]`, opts)));
      pushContent(contents, 'user', parts);
    } else if (m.role === 'assistant') {
      pushContent(contents, 'model', assistantParts(m, i));
    } else if (m.role === 'tool') {
      const name = names.get(m.tool_call_id);
      if (!name) {
        const param = `messages[${i}].tool_call_id`;
        throw new GatewayError('invalid_request', `${param} does not match a tool call of an earlier assistant message`, { param });
      }
      pushContent(contents, 'user', [{ functionResponse: { name, response: toolResponse(m.content) } }]);
    } else {
      throw unsupported(`messages[${i}].role`, 'the legacy function role is not translated; use tool messages');
    }
  }
  return { contents, system };
}

type Effort = NonNullable<ChatRequest['reasoning_effort']>;

const budgets: Record<Exclude<Effort, 'none'>, number> = { minimal: 512, low: 1024, medium: 8192, high: 24576, xhigh: 24576, max: 24576 };

/** reasoning_effort → thinkingConfig; Gemini 3 takes a level, 2.5 a token budget (0 disables, except on 2.5 Pro). */
export function thinkingConfigFor(req: ChatRequest, model: string): GeminiThinkingConfig | undefined {
  const effort: Effort | undefined = req.reasoning_effort ?? (req.thinking?.type === 'disabled' ? 'none' : undefined);
  const wantsThoughts = (effort != null && effort !== 'none') || req.thinking?.type === 'enabled';
  const id = model.replace(/^models\//, '');
  if (effort == null) return wantsThoughts ? { includeThoughts: true } : undefined;
  if (/^gemini-3/.test(id)) {
    const level = effort === 'none' || effort === 'minimal' || effort === 'low' ? 'low' : 'high';
    return wantsThoughts ? { thinkingLevel: level, includeThoughts: true } : { thinkingLevel: level };
  }
  if (effort === 'none') return { thinkingBudget: /^gemini-2\.5-pro/.test(id) ? 128 : 0 };
  return { thinkingBudget: budgets[effort], includeThoughts: true };
}

export function generationConfigFor(req: ChatRequest, model: string): GeminiGenerationConfig {
  const g: GeminiGenerationConfig = {};
  const max = req.max_completion_tokens ?? req.max_tokens;
  if (max != null) g.maxOutputTokens = max;
  if (req.temperature != null) g.temperature = req.temperature;
  if (req.top_p != null) g.topP = req.top_p;
  if (req.stop != null) g.stopSequences = typeof req.stop === 'string' ? [req.stop] : req.stop;
  if (req.n != null && req.n !== 1) g.candidateCount = req.n;
  if (req.seed != null) g.seed = req.seed;
  if (req.presence_penalty != null) g.presencePenalty = req.presence_penalty;
  if (req.frequency_penalty != null) g.frequencyPenalty = req.frequency_penalty;
  const rf = req.response_format;
  if (rf?.type === 'json_object') g.responseMimeType = 'application/json';
  if (rf?.type === 'json_schema') {
    g.responseMimeType = 'application/json';
    if (rf.json_schema.schema) g.responseJsonSchema = rf.json_schema.schema;
  }
  const thinking = thinkingConfigFor(req, model);
  if (thinking) g.thinkingConfig = thinking;
  return g;
}

function toolsFor(req: ChatRequest): Pick<GeminiRequest, 'tools' | 'toolConfig'> {
  if (!req.tools?.length) return {};
  const out: Pick<GeminiRequest, 'tools' | 'toolConfig'> = {
    tools: [
      {
        functionDeclarations: req.tools.map((t) => ({
          name: t.function.name,
          ...(t.function.description ? { description: t.function.description } : {}),
          ...(t.function.parameters ? { parametersJsonSchema: t.function.parameters } : {}),
        })),
      },
    ],
  };
  const tc = req.tool_choice;
  if (tc === 'none') out.toolConfig = { functionCallingConfig: { mode: 'NONE' } };
  else if (tc === 'auto') out.toolConfig = { functionCallingConfig: { mode: 'AUTO' } };
  else if (tc === 'required') out.toolConfig = { functionCallingConfig: { mode: 'ANY' } };
  else if (tc && typeof tc === 'object') {
    out.toolConfig = { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [tc.function.name] } };
  }
  return out;
}

export async function buildGeminiRequest(req: ChatRequest, opts: GeminiRequestOptions): Promise<BuiltGeminiRequest> {
  assertGeminiSupports(req);
  const { contents, system } = await buildContents(req.messages, opts);
  if (contents.length === 0) {
    throw new GatewayError('invalid_request', 'Gemini needs at least one user or assistant message besides system prompts', {
      param: 'messages',
    });
  }
  const body: GeminiRequest = { contents };
  if (system.length > 0) body.systemInstruction = { parts: system.map((text) => ({ text })) };
  const generationConfig = generationConfigFor(req, opts.model);
  if (Object.keys(generationConfig).length > 0) body.generationConfig = generationConfig;
  Object.assign(body, toolsFor(req));
  return { body, includeThoughts: generationConfig.thinkingConfig?.includeThoughts === true };
}
