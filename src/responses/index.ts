// The Responses API translation layer: request schema, Responses <-> Chat Completions (both ways, streaming included), state.
export {
  parseResponsesRequest,
  responsesRequestSchema,
  responseItemSchema,
  shouldStore,
  formatParam,
  type ResponsesRequest,
  type ResponseItem,
  type ResponsesToolChoice,
  type TextFormat,
} from './schema.js';
export { responsesToChat, inputItems, itemsToMessages } from './to-chat.js';
export { chatToResponse, mapUsage, chatUsageOf, baseResponse, statusOf } from './from-chat.js';
export {
  chatStreamToResponseEvents,
  formatSse,
  tapFinalResponse,
  collectResponse,
  finalResponseOf,
  errorInfoOf,
  type StreamErrorInfo,
} from './stream.js';
export {
  toStored,
  readStored,
  buildHistory,
  loadHistory,
  storedResponseObject,
  outputToItems,
  defaultRetentionMs,
  storedBodySchema,
  type StoredBody,
} from './state.js';
export { passthroughBody, restoreEcho, restoreEventEcho, readResponseEvents } from './passthrough.js';
export { newId, newResponseId, isResponseId } from './ids.js';
export type * from './types.js';
