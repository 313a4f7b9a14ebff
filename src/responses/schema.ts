// Zod schema of the `POST /v1/responses` request (OpenAI Responses API), and its parser that throws OpenAI-shaped 400s.
import { z } from 'zod';
import { GatewayError } from '../errors.js';

const detail = z.enum(['auto', 'low', 'high', 'original']).nullish();

const inputTextPart = z.looseObject({ type: z.literal('input_text'), text: z.string() });
const inputImagePart = z
  .looseObject({
    type: z.literal('input_image'),
    image_url: z.string().min(1).nullish(),
    file_id: z.string().nullish(),
    detail,
  })
  // The gateway has no Files API to resolve a file_id against: say so rather than lose the image.
  .refine((p) => typeof p.image_url === 'string', {
    message: 'input_image with file_id is not supported by this gateway: pass image_url (an https or data: URL)',
    path: ['file_id'],
  });
const inputFilePart = z
  .looseObject({
    type: z.literal('input_file'),
    file_data: z.string().nullish(),
    filename: z.string().nullish(),
    file_id: z.string().nullish(),
    file_url: z.string().nullish(),
  })
  .refine((p) => typeof p.file_data === 'string', {
    message: 'input_file is supported only with file_data (file_id and file_url need a Files API this gateway does not have)',
    path: ['file_data'],
  });
const outputTextPart = z.looseObject({
  type: z.literal('output_text'),
  text: z.string(),
  annotations: z.array(z.unknown()).optional(),
});
const refusalPart = z.looseObject({ type: z.literal('refusal'), refusal: z.string() });

export const inputContentPartSchema = z.discriminatedUnion('type', [
  inputTextPart,
  inputImagePart,
  inputFilePart,
  outputTextPart,
  refusalPart,
]);
export type InputContentPart = z.infer<typeof inputContentPartSchema>;

export const messageItemSchema = z.looseObject({
  type: z.literal('message'),
  id: z.string().optional(),
  role: z.enum(['user', 'system', 'developer', 'assistant']),
  content: z.union([z.string(), z.array(inputContentPartSchema)]),
  status: z.string().optional(),
});
export type MessageItem = z.infer<typeof messageItemSchema>;

export const functionCallItemSchema = z.looseObject({
  type: z.literal('function_call'),
  id: z.string().optional(),
  call_id: z.string().min(1),
  name: z.string().min(1),
  arguments: z.string(),
  status: z.string().optional(),
});
export type FunctionCallItem = z.infer<typeof functionCallItemSchema>;

export const functionCallOutputItemSchema = z.looseObject({
  type: z.literal('function_call_output'),
  id: z.string().nullish(),
  call_id: z.string().min(1),
  output: z.union([z.string(), z.array(inputContentPartSchema)]),
  status: z.string().nullish(),
});
export type FunctionCallOutputItem = z.infer<typeof functionCallOutputItemSchema>;

export const reasoningItemSchema = z.looseObject({
  type: z.literal('reasoning'),
  id: z.string().optional(),
  summary: z.array(z.looseObject({ type: z.literal('summary_text'), text: z.string() })).default([]),
  content: z.array(z.looseObject({ type: z.literal('reasoning_text'), text: z.string() })).nullish(),
  encrypted_content: z.string().nullish(),
  status: z.string().optional(),
});
export type ReasoningItem = z.infer<typeof reasoningItemSchema>;

/** The input items this gateway can translate. An item with only `role` and `content` is a message (EasyInputMessage). */
export const responseItemSchema = z.preprocess(
  (v) => (isRecord(v) && v.type === undefined && 'role' in v ? { ...v, type: 'message' } : v),
  z.discriminatedUnion('type', [
    messageItemSchema,
    functionCallItemSchema,
    functionCallOutputItemSchema,
    reasoningItemSchema,
  ]),
);
export type ResponseItem = z.infer<typeof responseItemSchema>;

export const functionToolSchema = z.looseObject({
  type: z.literal('function'),
  name: z.string().min(1).max(128),
  description: z.string().nullish(),
  parameters: z.record(z.string(), z.unknown()).nullish(),
  strict: z.boolean().nullish(),
});
export type ResponsesFunctionTool = z.infer<typeof functionToolSchema>;

export const responsesToolChoiceSchema = z.union([
  z.enum(['none', 'auto', 'required']),
  z.looseObject({ type: z.literal('function'), name: z.string().min(1) }),
  z.looseObject({
    type: z.literal('allowed_tools'),
    mode: z.enum(['auto', 'required']),
    tools: z.array(z.looseObject({ type: z.literal('function'), name: z.string().min(1) })),
  }),
]);
export type ResponsesToolChoice = z.infer<typeof responsesToolChoiceSchema>;

export const textFormatSchema = z.discriminatedUnion('type', [
  z.looseObject({ type: z.literal('text') }),
  z.looseObject({ type: z.literal('json_object') }),
  z.looseObject({
    type: z.literal('json_schema'),
    name: z.string().min(1).max(64),
    schema: z.record(z.string(), z.unknown()),
    description: z.string().nullish(),
    strict: z.boolean().nullish(),
  }),
]);
export type TextFormat = z.infer<typeof textFormatSchema>;

const reasoningEffort = z.enum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh']);

/** Fields of the Responses API that need a server-side feature this gateway does not have: rejected, never ignored. */
const unsupported = z
  .unknown()
  .refine((v) => v === undefined || v === null || v === false, { message: 'is not supported by this gateway' })
  .optional();

export const responsesRequestSchema = z.looseObject({
  model: z.string().min(1).max(256),
  input: z.union([z.string(), z.array(responseItemSchema)]).optional(),
  instructions: z.string().nullish(),
  tools: z
    .array(z.discriminatedUnion('type', [functionToolSchema]))
    .refine((ts) => new Set(ts.map((t) => t.name)).size === ts.length, { message: 'tool names must be unique' })
    .nullish(),
  tool_choice: responsesToolChoiceSchema.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  text: z
    .looseObject({ format: textFormatSchema.nullish(), verbosity: z.enum(['low', 'medium', 'high']).nullish() })
    .nullish(),
  reasoning: z
    .looseObject({
      effort: reasoningEffort.nullish(),
      summary: z.enum(['auto', 'concise', 'detailed']).nullish(),
      generate_summary: z.enum(['auto', 'concise', 'detailed']).nullish(),
    })
    .nullish(),
  max_output_tokens: z.number().int().min(1).max(10_000_000).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  metadata: z
    .record(z.string().max(64), z.string().max(512))
    .refine((m) => Object.keys(m).length <= 16, { message: 'at most 16 key-value pairs' })
    .nullish(),
  /** Default true, as in OpenAI: a response is kept unless the caller says `store: false`. */
  store: z.boolean().nullish(),
  previous_response_id: z.string().min(1).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_obfuscation: z.boolean().optional() }).nullish(),
  user: z.string().nullish(),
  safety_identifier: z.string().nullish(),
  prompt_cache_key: z.string().nullish(),
  service_tier: z.enum(['auto', 'default', 'flex', 'scale', 'priority']).nullish(),
  truncation: z.enum(['auto', 'disabled']).nullish(),
  include: z.array(z.string()).nullish(),
  background: unsupported,
  conversation: unsupported,
  prompt: unsupported,
});
export type ResponsesRequest = z.infer<typeof responsesRequestSchema>;

/** True unless the caller opted out: OpenAI stores responses by default. */
export function shouldStore(req: Pick<ResponsesRequest, 'store'>): boolean {
  return req.store !== false;
}

/**
 * Validates a request body; throws GatewayError 400 with `param` naming the first bad field in OpenAI's
 * dotted/bracketed form (e.g. `tools[1].type`, `input[0].content[1].file_id`).
 */
export function parseResponsesRequest(body: unknown): ResponsesRequest {
  const parsed = responsesRequestSchema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = mostSpecific(parsed.error.issues[0]);
  const param = formatParam(issue?.path ?? []);
  const what = param === '' ? 'request body' : `'${param}'`;
  if (issue?.code === 'invalid_union' && 'discriminator' in issue && issue.discriminator === 'type') {
    const got = valueAt(body, issue.path);
    throw new GatewayError('unsupported_parameter', `Unsupported value for ${what}: ${JSON.stringify(got)}. ${supportedHint(issue.path)}`, {
      param,
      wireCode: 'unsupported_value',
    });
  }
  const code = issue?.message === 'is not supported by this gateway' ? 'unsupported_parameter' : 'invalid_request';
  throw new GatewayError(code, `Invalid value for ${what}: ${issue?.message ?? 'invalid request'}`, {
    param: param || null,
    wireCode: code === 'unsupported_parameter' ? 'unsupported_parameter' : 'invalid_value',
  });
}

type Issue = z.core.$ZodIssue;

/**
 * A union reports one issue at its own path with every branch's issues nested (paths relative to it): the branch
 * that got deepest says what is really wrong (`input[0].role`, not `input`). Returns an issue with an absolute path.
 */
function mostSpecific(issue: Issue | undefined): Issue | undefined {
  if (!issue || issue.code !== 'invalid_union' || issue.errors.length === 0) return issue;
  let best: Issue = issue;
  for (const branch of issue.errors) {
    const first = branch[0];
    if (!first) continue;
    const candidate = mostSpecific({ ...first, path: [...issue.path, ...first.path] } as Issue);
    if (candidate && candidate.path.length > best.path.length) best = candidate;
  }
  return best;
}

function supportedHint(path: readonly PropertyKey[]): string {
  if (path[0] === 'tools') return "This gateway supports only tools of type 'function'.";
  if (path[0] === 'input' && path.length <= 3)
    return "Supported input item types: 'message', 'function_call', 'function_call_output', 'reasoning'.";
  return 'That type is not supported here.';
}

/** `['input', 0, 'content', 1, 'type']` → `input[0].content[1].type`. */
export function formatParam(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const p of path) {
    if (!isRecord(cur) && !Array.isArray(cur)) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[p];
  }
  return cur;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
