// Unguessable ids for tenants and keys, API key secrets and their SHA-256 hashes.
import { createHash, randomBytes } from 'node:crypto';

/** `ten_…`, `key_…`: 16 random bytes in base64url (128 bits), so ids cannot be enumerated. */
export function newId(prefix: 'ten' | 'key'): string {
  return `${prefix}_${randomBytes(16).toString('base64url')}`;
}

/** `tg_` + 43 base64url characters (256 random bits). */
export function newKeySecret(): string {
  return `tg_${randomBytes(32).toString('base64url')}`;
}

/** SHA-256 hex of a key secret: what the store keeps and what auth looks up. */
export function hashKeySecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** The recognisable start of a secret (`tg_` + 6 characters); 36 bits of 256, useless for guessing the rest. */
export function keyPrefix(secret: string): string {
  return secret.slice(0, 9);
}
