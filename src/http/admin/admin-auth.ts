// Admin bearer-token check in constant time, and the admin token generated once into the data dir when none is set.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MiddlewareHandler } from 'hono';
import { GatewayError } from '../../errors.js';
import { errorResponse } from '../errors.js';

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/**
 * True when `presented` equals the token. Both sides are hashed first, so the comparison always runs over 32 bytes
 * and neither the token's length nor its common prefix with a guess leaks through timing.
 */
export function adminTokenMatches(presented: string, expectedDigest: Buffer): boolean {
  return timingSafeEqual(digest(presented), expectedDigest);
}

/** Bearer token from `Authorization`, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1] : null;
}

/** Middleware: 401 OpenAI-shaped unless `Authorization: Bearer <admin token>`. With no token configured, nothing passes. */
export function createAdminAuth(token: string | undefined): MiddlewareHandler {
  const expected = token ? digest(token) : null;
  return async function adminAuth(c, next) {
    const presented = bearerToken(c.req.header('authorization'));
    if (!expected || presented === null || !adminTokenMatches(presented, expected)) {
      const message = presented === null ? 'Missing admin token (Authorization: Bearer <TOLLGATE_ADMIN_TOKEN>).' : 'Invalid admin token.';
      return errorResponse(c, new GatewayError('invalid_api_key', message));
    }
    await next();
  };
}

/**
 * The admin token: the configured one, else the one stored in `${dataDir}/admin-token`, else a new one written there
 * (mode 0600). `generated` tells server.ts to print it once.
 */
export function resolveAdminToken(options: { configured?: string; dataDir: string }): { token: string; generated: boolean } {
  if (options.configured) return { token: options.configured, generated: false };
  const file = join(options.dataDir, 'admin-token');
  try {
    const stored = readFileSync(file, 'utf8').trim();
    if (stored !== '') return { token: stored, generated: false };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const token = `tga_${randomBytes(24).toString('base64url')}`;
  mkdirSync(options.dataDir, { recursive: true });
  // wx: two instances starting together on one data dir must not overwrite each other's token.
  try {
    writeFileSync(file, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return { token: readFileSync(file, 'utf8').trim(), generated: false };
    throw e;
  }
  return { token, generated: true };
}
