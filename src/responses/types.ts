// Types of what Tollgate sends back on the Responses API: the Response object, its output items and the stream events.
// Typed, not validated: they come from our own translation. Shapes follow openai-node src/resources/responses/responses.ts.
import type { ResponsesRequest, ResponsesToolChoice } from './schema.js';

export interface OutputText {
  type: 'output_text';
  text: string;
  /** Always empty: no upstream here produces citations. */
  annotations: never[];
  logprobs?: never[];
}

export interface OutputRefusal {
  type: 'refusal';
  refusal: string;
}

export type ItemStatus = 'in_progress' | 'completed' | 'incomplete';

export interface OutputMessage {
  type: 'message';
  id: string;
  role: 'assistant';
  status: ItemStatus;
  content: Array<OutputText | OutputRefusal>;
}

export interface SummaryText {
  type: 'summary_text';
  text: string;
}

export interface OutputReasoning {
  type: 'reasoning';
  id: string;
  summary: SummaryText[];
  status?: ItemStatus;
}

export interface OutputFunctionCall {
  type: 'function_call';
  id: string;
  call_id: string;
  name: string;
  arguments: string;
  status: ItemStatus;
}

export type OutputItem = OutputMessage | OutputReasoning | OutputFunctionCall;

export interface ResponseUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number; cache_write_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export type ResponseStatus = 'in_progress' | 'completed' | 'incomplete' | 'failed';

export interface ResponseErrorInfo {
  code: string;
  message: string;
}

export interface EchoedFunctionTool {
  type: 'function';
  name: string;
  description: string | null;
  parameters: Record<string, unknown> | null;
  strict: boolean | null;
}

export type EchoedTextFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; name: string; schema: Record<string, unknown>; description?: string; strict?: boolean | null };

export interface ResponseObject {
  id: string;
  object: 'response';
  created_at: number;
  completed_at: number | null;
  status: ResponseStatus;
  background: boolean;
  error: ResponseErrorInfo | null;
  incomplete_details: { reason: 'max_output_tokens' | 'content_filter' } | null;
  instructions: string | null;
  max_output_tokens: number | null;
  model: string;
  output: OutputItem[];
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  reasoning: {
    effort: NonNullable<NonNullable<ResponsesRequest['reasoning']>['effort']> | null;
    summary: NonNullable<NonNullable<ResponsesRequest['reasoning']>['summary']> | null;
  };
  store: boolean;
  temperature: number;
  top_p: number;
  text: { format: EchoedTextFormat; verbosity?: 'low' | 'medium' | 'high' | null };
  tool_choice: ResponsesToolChoice;
  tools: EchoedFunctionTool[];
  truncation: 'auto' | 'disabled';
  usage: ResponseUsage | null;
  metadata: Record<string, string>;
  user?: string;
  safety_identifier: string | null;
  prompt_cache_key: string | null;
  service_tier: NonNullable<ResponsesRequest['service_tier']> | null;
}

/** What a translation needs besides the chat result: the ids and time of this response and the request it answers. */
export interface ResponseContext {
  /** `resp_…`, see newResponseId(). */
  id: string;
  /** Unix seconds. */
  createdAt: number;
  req: ResponsesRequest;
  /** The model name to report (the served model). */
  model: string;
  /** Store flag as decided by the gateway (defaults to shouldStore(req)). */
  store?: boolean;
}

interface Seq {
  sequence_number: number;
}

type Lifecycle<T extends string> = Seq & { type: T; response: ResponseObject };
type ItemEvent<T extends string> = Seq & { type: T; output_index: number; item: OutputItem };
type PartEvent<T extends string> = Seq & {
  type: T;
  item_id: string;
  output_index: number;
  content_index: number;
  part: OutputText | OutputRefusal;
};
type SummaryPartEvent<T extends string> = Seq & {
  type: T;
  item_id: string;
  output_index: number;
  summary_index: number;
  part: SummaryText;
};
type Located = { item_id: string; output_index: number };

export type ResponseStreamEvent =
  | Lifecycle<'response.created'>
  | Lifecycle<'response.in_progress'>
  | Lifecycle<'response.completed'>
  | Lifecycle<'response.incomplete'>
  | Lifecycle<'response.failed'>
  | ItemEvent<'response.output_item.added'>
  | ItemEvent<'response.output_item.done'>
  | PartEvent<'response.content_part.added'>
  | PartEvent<'response.content_part.done'>
  | (Seq & Located & { type: 'response.output_text.delta'; content_index: number; delta: string; logprobs: never[] })
  | (Seq & Located & { type: 'response.output_text.done'; content_index: number; text: string; logprobs: never[] })
  | (Seq & Located & { type: 'response.refusal.delta'; content_index: number; delta: string })
  | (Seq & Located & { type: 'response.refusal.done'; content_index: number; refusal: string })
  | (Seq & Located & { type: 'response.function_call_arguments.delta'; delta: string })
  | (Seq & Located & { type: 'response.function_call_arguments.done'; name: string; arguments: string })
  | SummaryPartEvent<'response.reasoning_summary_part.added'>
  | SummaryPartEvent<'response.reasoning_summary_part.done'>
  | (Seq & Located & { type: 'response.reasoning_summary_text.delta'; summary_index: number; delta: string })
  | (Seq & Located & { type: 'response.reasoning_summary_text.done'; summary_index: number; text: string })
  | (Seq & {
      type: 'error';
      code: string | null;
      message: string;
      param: string | null;
      /** Also nested: the OpenAI SDKs throw an APIError on a stream event that holds an `error` key. */
      error: { type: string; code: string | null; message: string; param: string | null };
    });

export type ResponseStreamEventType = ResponseStreamEvent['type'];
