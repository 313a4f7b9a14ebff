// Native pass-through to OpenAI's /responses while the gateway, not OpenAI, holds the conversation state.
import { parseSse } from '../providers/sse.js';
import type { ResponseItem, ResponsesRequest } from './schema.js';
import { shouldStore } from './schema.js';
import { inputItems } from './to-chat.js';
import type { ResponseStreamEvent } from './types.js';
import { copyWithout } from '../objects.js';

/** Fields the gateway keeps (the state lives with it): never sent upstream as the client gave them. */
const gatewayHeldFields = new Set(['previous_response_id', 'store']);

/**
 * The body to send upstream: history expanded into `input` (OpenAI never saw our previous_response_id), `store: false`
 * (the gateway keeps the state, per tenant), and the client's model replaced by the provider's id.
 *
 * With `store: false` OpenAI cannot look up items by id: ids are dropped, and reasoning items without
 * `encrypted_content` are left out (OpenAI would answer 404 for them; their text is only a summary anyway).
 */
export function passthroughBody(req: ResponsesRequest, history: readonly ResponseItem[], upstreamModel: string): Record<string, unknown> {
  const input = [...history, ...inputItems(req)].flatMap(forUpstream);
  // Field by field (src/objects.ts): `store` added to a spread copy would go through V8's runtime.
  const body = copyWithout(req, gatewayHeldFields);
  body.model = upstreamModel;
  body.input = input;
  body.store = false;
  return body;
}

function forUpstream(item: ResponseItem): ResponseItem[] {
  if (item.type === 'reasoning' && !item.encrypted_content) return [];
  const { id: _id, ...rest } = item;
  return [rest as ResponseItem];
}

/**
 * OpenAI echoes what it was sent; the client must see what it sent: its `store` and `previous_response_id`. Applies to a Response object, or to the `response` of a lifecycle stream event. Mutates and returns it.
 */
export function restoreEcho<T extends Record<string, unknown>>(response: T, req: ResponsesRequest): T {
  const r = response as Record<string, unknown>;
  r.store = shouldStore(req);
  r.previous_response_id = req.previous_response_id ?? null;
  return response;
}

/** restoreEcho on the Response carried by a lifecycle event (created, in_progress, completed, incomplete, failed). */
export function restoreEventEcho(event: ResponseStreamEvent, req: ResponsesRequest): ResponseStreamEvent {
  if ('response' in event) restoreEcho(event.response as unknown as Record<string, unknown>, req);
  return event;
}

/**
 * Parses an upstream Responses SSE body into events (each `data:` payload carries its own `type`). Event types this
 * gateway never produces itself (annotations, …) pass through as they are; `formatSse` writes them back unchanged.
 */
export async function* readResponseEvents(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<ResponseStreamEvent> {
  for await (const data of parseSse(source)) {
    if (data === '[DONE]') continue;
    const event: unknown = JSON.parse(data);
    if (typeof event === 'object' && event !== null && typeof (event as { type?: unknown }).type === 'string') {
      yield event as ResponseStreamEvent;
    }
  }
}
