// Reads and validates a JSON request body: size limit (413), JSON syntax (400), zod schema (400 naming the param).
import type { Context } from 'hono';
import type { z } from 'zod';
import { GatewayError } from '../errors.js';

/** `['messages', 0, 'content']` → `messages[0].content`, as OpenAI names params. */
export function paramPath(path: readonly PropertyKey[]): string | null {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || null;
}

export async function readBody(c: Context, limit: number): Promise<string> {
  const declared = c.req.header('content-length');
  if (declared !== undefined && Number(declared) > limit) throw tooLarge(limit);
  const body = c.req.raw.body;
  if (!body) return '';
  if (declared !== undefined) {
    const text = await c.req.text();
    if (text.length > limit) throw tooLarge(limit);
    return text;
  }
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
  return Buffer.concat(chunks).toString('utf8');
}

function tooLarge(limit: number): GatewayError {
  return new GatewayError('request_too_large', `Request body exceeds the limit of ${limit} bytes.`);
}

export function parseJson(text: string): unknown {
  if (text.length === 0) throw new GatewayError('invalid_json', 'The request body is empty; expected a JSON object.');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new GatewayError('invalid_json', `We could not parse the JSON body of your request. (${(e as Error).message})`);
  }
}

export function validate<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new GatewayError('invalid_request', 'The request body must be a JSON object.');
  }
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

export async function readJson<S extends z.ZodType>(c: Context, schema: S, limit: number): Promise<z.infer<S>> {
  return validate(schema, parseJson(await readBody(c, limit)));
}
