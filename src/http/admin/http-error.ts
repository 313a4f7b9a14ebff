// Turns zod issues into GatewayErrors, and GatewayErrors into responses (through http/errors.ts errorResponse), for the admin API.
import type { Context } from 'hono';
import type { z } from 'zod';
import { GatewayError, isGatewayError } from '../../errors.js';
import { MAX_JSON_DEPTH, jsonDepthExceeds } from '../body.js';
import { errorResponse } from '../errors.js';

/** `routes.auto.strategy`, `messages[0].content`: the OpenAI way of naming a field in `param`. */
export function formatIssuePath(path: readonly PropertyKey[], prefix?: string): string | null {
  let out = prefix ?? '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out === '' ? null : out;
}

/** The first issue of a failed parse as a 400 naming the field (the first one is the one a person fixes first). */
export function validationError(error: z.ZodError, prefix?: string): GatewayError {
  const issue = error.issues[0];
  if (!issue) return new GatewayError('invalid_request', 'Invalid request body.');
  const param = formatIssuePath(issue.path, prefix);
  const where = param ?? 'body';
  return new GatewayError('invalid_request', `Invalid value for '${where}': ${issue.message}`, { param });
}

/** Parses with a zod schema or throws the 400 naming the first bad field (`prefix` for nested bodies). */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, prefix?: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw validationError(r.error, prefix);
  return r.data;
}

/**
 * Renders a GatewayError; anything else is rethrown to the app's error handler, which logs it and answers an
 * OpenAI-shaped 500 (a database error must not vanish silently).
 */
export function toErrorResponse(c: Context, e: unknown): Response {
  if (isGatewayError(e)) return errorResponse(c, e);
  throw e;
}

/** Reads a JSON body; a malformed one is a 400 `invalid_json`, never a 500. */
export async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  if (jsonDepthExceeds(text, MAX_JSON_DEPTH)) throw new GatewayError('invalid_json', `The JSON body is nested deeper than ${MAX_JSON_DEPTH} levels.`);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new GatewayError('invalid_json', 'The request body is not valid JSON.');
  }
}
