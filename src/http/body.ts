// Reads and validates a JSON request body: size limit (413), JSON syntax (400), zod schema (400 naming the param).
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import type { z } from 'zod';
import { GatewayError } from '../errors.js';
import { utf8Text } from '../utf8.js';

/** `['messages', 0, 'content']` → `messages[0].content`, as OpenAI names params. */
export function paramPath(path: readonly PropertyKey[]): string | null {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || null;
}

export async function readBody(c: Context, limit: number): Promise<string> {
  const declared = c.req.header('content-length');
  if (declared !== undefined) {
    const length = Number(declared);
    if (length > limit) throw tooLarge(limit);
    // One microtask: the route runs inside Node's 'request' event, before its parser has taken the body that came
    // in the same read; once the stack unwinds, a body that came whole is complete and buffered.
    await Promise.resolve();
    const whole = arrivedBody(c, length);
    if (whole !== null) {
      if (whole.length > limit) throw tooLarge(limit);
      return whole;
    }
    // Read before touching c.req.raw.body: on @hono/node-server that getter builds a full web Request over
    // Readable.toWeb() (webstreams on every request); text() alone reads the socket directly.
    const text = await c.req.text();
    if (text.length > limit) throw tooLarge(limit);
    return text;
  }
  const body = c.req.raw.body;
  if (!body) return '';
  // Chunked upload: count bytes as they arrive so that a huge body is refused without holding it.
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return utf8Text(Buffer.concat(chunks)); // as c.req.text() decodes a sized body: a leading BOM dropped
}

/**
 * The body of a request that arrived whole (the usual case: a small body in the packets of its headers), taken from
 * Node's request buffer at once. c.req.text() instead puts the request into flowing mode, waits for its 'data' and
 * 'end' events over several ticks, and decodes through a TextDecoder: ~2.3 KiB more garbage per request (bench
 * allocation phase, 82.2-82.8 → 79.9-80.6 KiB). null when the body is not all buffered yet (still arriving) or was read
 * already: the caller reads it the usual way. Node's parser has checked the bytes against content-length.
 */
function arrivedBody(c: Context, declared: number): string | null {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (!incoming || incoming.readableDidRead || incoming.readableFlowing !== null || incoming.readableEncoding !== null) return null;
  if (incoming.readableLength !== declared) return null;
  const buf = declared === 0 ? null : (incoming.read() as Buffer | null);
  // Let the request end as usual (its parser adds the end next): 'end' marks it done for Node and node-server.
  incoming.resume();
  return buf === null ? '' : utf8Text(buf);
}

function tooLarge(limit: number): GatewayError {
  // Connection: close, since the unread rest of the body still sits on this connection: a client reusing it would fail.
  return new GatewayError('request_too_large', `Request body exceeds the limit of ${limit} bytes.`, { headers: { connection: 'close' } });
}

/** Deeper JSON than this is refused before parsing: no OpenAI body needs it, and recursive code downstream would. */
export const MAX_JSON_DEPTH = 128;

/** Nesting depth of JSON text, scanning brackets outside strings; stops counting once past `max`. */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 92 /* \\ */) i++;
      else if (ch === 34 /* " */) inString = false;
    } else if (ch === 34) inString = true;
    else if (ch === 91 /* [ */ || ch === 123 /* { */) {
      if (++depth > max) return true;
    } else if (ch === 93 /* ] */ || ch === 125 /* } */) depth--;
  }
  return false;
}

export function parseJson(text: string): unknown {
  if (text.length === 0) throw new GatewayError('invalid_json', 'The request body is empty; expected a JSON object.');
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) {
    throw new GatewayError('invalid_json', `The JSON body is nested deeper than ${MAX_JSON_DEPTH} levels.`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new GatewayError('invalid_json', `We could not parse the JSON body of your request. (${(e as Error).message})`);
  }
}

/**
 * The body as the schema's type, or an OpenAI-shaped 400. `fast` (optional) vouches for the common shapes without zod:
 * it returns the value only when the schema would accept it unchanged (src/api/chat-fast.ts), otherwise null.
 */
export function validate<S extends z.ZodType>(schema: S, value: unknown, fast?: (v: unknown) => z.infer<S> | null): z.infer<S> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new GatewayError('invalid_request', 'The request body must be a JSON object.');
  }
  const quick = fast?.(value);
  if (quick) return quick;
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const param = paramPath(issue.path);
  const missing = valueAt(value, issue.path) === undefined;
  const what = missing ? `Missing required parameter: '${param}'.` : `Invalid value for '${param ?? 'body'}': ${issue.message}.`;
  throw new GatewayError('invalid_request', what, { param, wireCode: missing ? 'missing_required_parameter' : 'invalid_value' });
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

export async function readJson<S extends z.ZodType>(c: Context, schema: S, limit: number, fast?: (v: unknown) => z.infer<S> | null): Promise<z.infer<S>> {
  return validate(schema, parseJson(await readBody(c, limit)), fast);
}
