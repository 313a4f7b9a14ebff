// What `store` keeps of a response, and how `previous_response_id` rebuilds the conversation from it.
import { z } from 'zod';
import { GatewayError } from '../errors.js';
import type { Store, StoredResponse } from '../store/interface.js';
import { responseItemSchema, type ResponseItem } from './schema.js';
import type { OutputItem, ResponseObject } from './types.js';

/** OpenAI keeps stored responses for 30 days. */
export const defaultRetentionMs = 30 * 24 * 3600 * 1000;

/**
 * The stored body: the Response as returned, plus the items that produced it. Each body carries its whole history,
 * so that a next turn needs one lookup (storage grows with the square of the turns; retention bounds it).
 */
export const storedBodySchema = z.object({
  version: z.literal(1),
  response: z.looseObject({ id: z.string(), object: z.literal('response'), output: z.array(z.unknown()) }),
  input: z.array(responseItemSchema),
  history: z.array(responseItemSchema),
});
export type StoredBody = z.infer<typeof storedBodySchema>;

export function toStored(args: {
  tenantId: string;
  response: ResponseObject;
  /** This request's input items (inputItems(req)), not including history. */
  input: readonly ResponseItem[];
  /** The history this request was answered with (buildHistory of its previous response, or []). */
  history: readonly ResponseItem[];
  now?: Date;
  retentionMs?: number;
}): StoredResponse {
  const createdAt = args.now ?? new Date(args.response.created_at * 1000);
  const body: StoredBody = {
    version: 1,
    response: args.response as unknown as StoredBody['response'],
    input: [...args.input],
    history: [...args.history],
  };
  return {
    id: args.response.id,
    tenantId: args.tenantId,
    body,
    createdAt,
    expiresAt: new Date(createdAt.getTime() + (args.retentionMs ?? defaultRetentionMs)),
  };
}

/** Parses a stored body back (it comes from the database as unknown JSON). */
export function readStored(stored: Pick<StoredResponse, 'body'>): StoredBody {
  const parsed = storedBodySchema.safeParse(stored.body);
  if (!parsed.success) throw new GatewayError('internal_error', 'A stored response could not be read.', { cause: parsed.error });
  return parsed.data;
}

/** The Response object to return from GET /v1/responses/:id. */
export function storedResponseObject(stored: Pick<StoredResponse, 'body'>): ResponseObject {
  return readStored(stored).response as unknown as ResponseObject;
}

/** The conversation so far, as input items for the next turn: earlier history, then that turn's input and output. */
export function buildHistory(stored: Pick<StoredResponse, 'body'>): ResponseItem[] {
  const body = readStored(stored);
  const output = (body.response.output as OutputItem[]).flatMap(outputToItems);
  return [...body.history, ...body.input, ...output];
}

/** Output items replayed as input items, keeping their ids. */
export function outputToItems(item: OutputItem): ResponseItem[] {
  switch (item.type) {
    case 'message':
      // Copied into plain object literals: interfaces lack the index signature of the (loose) item schema types.
      return [
        {
          type: 'message',
          id: item.id,
          role: 'assistant',
          content: item.content.map((p) =>
            p.type === 'refusal' ? { type: 'refusal', refusal: p.refusal } : { type: 'output_text', text: p.text, annotations: p.annotations },
          ),
        },
      ];
    case 'function_call':
      return [{ type: 'function_call', id: item.id, call_id: item.call_id, name: item.name, arguments: item.arguments }];
    case 'reasoning':
      return [{ type: 'reasoning', id: item.id, summary: item.summary.map((x) => ({ type: 'summary_text', text: x.text })) }];
    default:
      // Stored bodies are JSON from the database: an item type this gateway never produces has nothing to replay.
      return [];
  }
}

/**
 * Loads the previous turn for `previous_response_id`, scoped to the tenant: another tenant's id, an expired one and an
 * unknown one are the same 404.
 */
export async function loadHistory(
  store: Pick<Store, 'getResponse'>,
  tenantId: string,
  previousResponseId: string | null | undefined,
  now: Date = new Date(),
): Promise<ResponseItem[]> {
  if (!previousResponseId) return [];
  const stored = await store.getResponse(tenantId, previousResponseId);
  if (!stored || stored.expiresAt.getTime() <= now.getTime()) {
    throw new GatewayError('not_found', `Previous response with id '${previousResponseId}' not found.`, {
      param: 'previous_response_id',
      wireCode: 'previous_response_not_found',
    });
  }
  return buildHistory(stored);
}
