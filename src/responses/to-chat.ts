// Translates a Responses API request (plus the items of earlier turns) into a Chat Completions request.
import type { ChatMessage, ChatRequest, ContentPart, FunctionTool, ResponseFormat, ToolCall, ToolChoice } from '../api/openai.js';
import { GatewayError } from '../errors.js';
import type {
  InputContentPart,
  MessageItem,
  ReasoningItem,
  ResponseItem,
  ResponsesRequest,
  ResponsesToolChoice,
  TextFormat,
} from './schema.js';

type AssistantMessage = Extract<ChatMessage, { role: 'assistant' }>;

/**
 * `history` holds the items of earlier turns (previous_response_id), oldest first; they come before `req.input`.
 * Instructions are not part of history: as in OpenAI, only this request's `instructions` apply.
 */
export function responsesToChat(req: ResponsesRequest, history: readonly ResponseItem[] = []): ChatRequest {
  const messages: ChatMessage[] = [];
  if (req.instructions) messages.push({ role: 'system', content: req.instructions });
  messages.push(...itemsToMessages([...history, ...inputItems(req)]));
  if (messages.length === 0) {
    throw new GatewayError('invalid_request', "Missing required parameter: 'input'.", { param: 'input', wireCode: 'missing_required_parameter' });
  }
  const chat: ChatRequest = { model: req.model, messages };
  const { tools, choice } = mapTools(req);
  if (tools) chat.tools = tools;
  if (choice !== undefined) chat.tool_choice = choice;
  copyIfSet(chat, 'parallel_tool_calls', req.parallel_tool_calls);
  const format = req.text?.format;
  if (format) chat.response_format = mapFormat(format);
  // `medium` is every model's default: forwarding it would only make providers without the knob (Gemini) refuse.
  if (req.text?.verbosity && req.text.verbosity !== 'medium') chat.verbosity = req.text.verbosity;
  copyIfSet(chat, 'reasoning_effort', req.reasoning?.effort);
  copyIfSet(chat, 'max_completion_tokens', req.max_output_tokens);
  copyIfSet(chat, 'temperature', req.temperature);
  copyIfSet(chat, 'top_p', req.top_p);
  if (typeof req.top_logprobs === 'number' && req.top_logprobs > 0) {
    chat.logprobs = true;
    chat.top_logprobs = req.top_logprobs;
  }
  copyIfSet(chat, 'user', req.user);
  copyIfSet(chat, 'safety_identifier', req.safety_identifier);
  copyIfSet(chat, 'prompt_cache_key', req.prompt_cache_key);
  copyIfSet(chat, 'service_tier', req.service_tier);
  // `store` and `metadata` belong to the Responses object, not to the upstream chat call (chat `store` means something else).
  if (req.stream) {
    chat.stream = true;
    chat.stream_options = { include_usage: true };
  }
  return chat;
}

export function inputItems(req: Pick<ResponsesRequest, 'input'>): ResponseItem[] {
  if (req.input === undefined) return [];
  if (typeof req.input === 'string') return [{ type: 'message', role: 'user', content: req.input }];
  return req.input;
}

function copyIfSet<K extends keyof ChatRequest>(chat: ChatRequest, key: K, value: ChatRequest[K] | null | undefined): void {
  if (value !== undefined && value !== null) chat[key] = value;
}

/**
 * One assistant turn of Chat Completions may hold reasoning, text and several tool calls; in Responses these are
 * consecutive items. So reasoning / assistant message / function_call items are folded into one assistant message
 * until an item of another kind (or a second text message) starts a new turn.
 */
export function itemsToMessages(items: readonly ResponseItem[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  // Held in an object so that TypeScript does not narrow it to null across the closures below.
  const cur: { turn: AssistantMessage | null } = { turn: null };
  const flush = (): void => {
    if (cur.turn) out.push(cur.turn);
    cur.turn = null;
  };
  const openTurn = (): AssistantMessage => {
    cur.turn ??= { role: 'assistant', content: null };
    return cur.turn;
  };
  const turnHasOutput = (): boolean => cur.turn !== null && (cur.turn.content !== null || cur.turn.tool_calls !== undefined);
  for (const item of items) {
    switch (item.type) {
      case 'reasoning': {
        if (turnHasOutput()) flush();
        const text = reasoningText(item);
        const t = openTurn();
        if (text !== '') t.reasoning_content = t.reasoning_content ? `${t.reasoning_content}\n\n${text}` : text;
        break;
      }
      case 'function_call': {
        const call: ToolCall = { id: item.call_id, type: 'function', function: { name: item.name, arguments: item.arguments } };
        const t = openTurn();
        t.tool_calls = [...(t.tool_calls ?? []), call];
        break;
      }
      case 'message': {
        if (item.role === 'assistant') {
          if (turnHasOutput()) flush();
          Object.assign(openTurn(), assistantContent(item));
          break;
        }
        flush();
        out.push({ role: item.role, content: userContent(item.content) });
        break;
      }
      case 'function_call_output': {
        flush();
        out.push({ role: 'tool', tool_call_id: item.call_id, content: toolOutput(item.output) });
        break;
      }
    }
  }
  flush();
  return out;
}

function reasoningText(item: ReasoningItem): string {
  const summary = item.summary.map((s) => s.text).filter((s) => s !== '');
  if (summary.length > 0) return summary.join('\n\n');
  return (item.content ?? []).map((c) => c.text).join('');
}

function assistantContent(item: MessageItem): { content: string | null; refusal?: string } {
  if (typeof item.content === 'string') return { content: item.content };
  let text = '';
  let refusal: string | undefined;
  for (const p of item.content) {
    if (p.type === 'output_text' || p.type === 'input_text') text += p.text;
    else if (p.type === 'refusal') refusal = (refusal ?? '') + p.refusal;
    else throw new GatewayError('invalid_request', `An assistant message cannot hold a part of type '${p.type}'.`, { param: 'input' });
  }
  return refusal === undefined ? { content: text } : { content: text === '' ? null : text, refusal };
}

function userContent(content: MessageItem['content']): string | ContentPart[] {
  if (typeof content === 'string') return content;
  return content.map(toChatPart);
}

function toChatPart(p: InputContentPart): ContentPart {
  switch (p.type) {
    case 'input_text':
    case 'output_text':
      return { type: 'text', text: p.text };
    case 'refusal':
      return { type: 'text', text: p.refusal };
    case 'input_image': {
      // The schema guarantees image_url (file_id is refused there). Chat has no `original` detail: `high` is closest.
      const url = p.image_url ?? '';
      const d = p.detail === 'original' ? 'high' : p.detail;
      return { type: 'image_url', image_url: d ? { url, detail: d } : { url } };
    }
    case 'input_file':
      return { type: 'file', file: { file_data: p.file_data, ...(p.filename ? { filename: p.filename } : {}) } };
  }
}

function toolOutput(output: string | InputContentPart[]): string {
  if (typeof output === 'string') return output;
  return output
    .map((p) => {
      if (p.type === 'input_text' || p.type === 'output_text') return p.text;
      throw new GatewayError('unsupported_parameter', `function_call_output parts of type '${p.type}' are not supported; send text.`, {
        param: 'input',
      });
    })
    .join('');
}

function mapTools(req: ResponsesRequest): { tools?: FunctionTool[]; choice?: ToolChoice } {
  let tools = (req.tools ?? []).map(
    (t): FunctionTool => ({
      type: 'function',
      function: {
        name: t.name,
        ...(t.description ? { description: t.description } : {}),
        ...(t.parameters ? { parameters: t.parameters } : {}),
        ...(typeof t.strict === 'boolean' ? { strict: t.strict } : {}),
      },
    }),
  );
  const rc: ResponsesToolChoice | null | undefined = req.tool_choice;
  let choice: ToolChoice | undefined;
  if (typeof rc === 'string') choice = rc;
  else if (rc?.type === 'function') choice = { type: 'function', function: { name: rc.name } };
  else if (rc?.type === 'allowed_tools') {
    // Chat has no portable allowed_tools: offering only the allowed tools has the same effect on every provider.
    const allowed = new Set(rc.tools.map((t) => t.name));
    tools = tools.filter((t) => allowed.has(t.function.name));
    choice = rc.mode;
  }
  if (choice && typeof choice === 'object' && !tools.some((t) => t.function.name === choice.function.name)) {
    throw new GatewayError('invalid_request', `tool_choice names '${choice.function.name}', which is not in tools.`, { param: 'tool_choice' });
  }
  if (tools.length > 0) return { tools, choice };
  // Chat rejects tool_choice without tools; `auto`/`none` mean nothing then, `required` cannot be met.
  if (choice === 'required') {
    throw new GatewayError('invalid_request', "tool_choice 'required' needs at least one tool.", { param: 'tool_choice' });
  }
  return {};
}

function mapFormat(f: TextFormat): ResponseFormat {
  if (f.type !== 'json_schema') return { type: f.type };
  return {
    type: 'json_schema',
    json_schema: {
      name: f.name,
      schema: f.schema,
      ...(f.description ? { description: f.description } : {}),
      ...(typeof f.strict === 'boolean' ? { strict: f.strict } : {}),
    },
  };
}
