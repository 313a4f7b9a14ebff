// Tool call ids for Gemini function calls: stable per response, and carrying the Gemini thoughtSignature statelessly.
import { createHash, randomBytes } from 'node:crypto';

/**
 * Gemini 3 wants a functionCall's thoughtSignature back in later turns, and several gateway replicas may serve those
 * turns, so the signature rides inside the OpenAI tool call id: `call_<24 chars>` or `call_<24 chars>.<base64url sig>`.
 * The signature is encoded from its UTF-8 bytes, so any string survives unchanged.
 */
const SEPARATOR = '.';

export function makeToolCallId(seed: string | undefined, candidate: number, call: number, signature?: string): string {
  const base = seed
    ? createHash('sha256').update(`${seed}:${candidate}:${call}`).digest('base64url').slice(0, 24)
    : randomBytes(18).toString('base64url');
  const id = `call_${base}`;
  return signature ? `${id}${SEPARATOR}${Buffer.from(signature, 'utf8').toString('base64url')}` : id;
}

/** The thoughtSignature carried by a tool call id, if any (ids from other providers simply have none). */
export function signatureFromToolCallId(id: string): string | undefined {
  if (!id.startsWith('call_')) return undefined;
  const at = id.indexOf(SEPARATOR);
  if (at < 0 || at === id.length - 1) return undefined;
  const encoded = id.slice(at + 1);
  if (!/^[A-Za-z0-9_-]+$/.test(encoded)) return undefined;
  return Buffer.from(encoded, 'base64url').toString('utf8');
}
