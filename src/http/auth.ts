// Virtual-key authentication for /v1/*: key lookup cached in-process for a few seconds, and a per-IP brute-force limit.
import { createHash } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { GatewayError } from '../errors.js';
import type { ApiKeyRecord, Store, Tenant } from '../store/interface.js';
import { bearerToken } from './admin/admin-auth.js';
import { errorResponse } from './errors.js';

export interface AuthContext {
  tenant: Tenant;
  key: ApiKeyRecord;
}

/** Hono variables set by the key auth middleware: `new Hono<{ Variables: AuthVariables }>()`, then `c.get('auth')`. */
export type AuthVariables = { auth: AuthContext };

export interface KeyAuthOptions {
  store: Store;
  /** How long a lookup is trusted; bounds how long a key revoked on another instance keeps working. */
  ttlMs: number;
  clock: () => Date;
  /** Failed authentications per client IP per minute before 429 (config server.auth_failures_per_minute). */
  maxFailuresPerMinute: number;
  /** How long an unknown key is remembered as unknown; short, so a key created on another instance works quickly. */
  negativeTtlMs?: number;
  /** Bound of the cache (entries); the oldest entry goes first. */
  maxEntries?: number;
  /** Client address for the failure limit; default: the socket's remote address (never a client-set header). */
  clientIp?: (c: Context) => string;
  /**
   * Keeps the keys in use fresh without a request waiting: every `everyMs`, one batched store query re-reads the cached
   * keys used within the last `forMs` whose entry is in the second half of its TTL. Without it a key used less often
   * than the TTL waits for the store on each request. The timer runs only while some key is in use. Off when absent
   * (tests call `refreshActive()` themselves).
   */
  keepWarm?: { everyMs: number; forMs: number };
}

/** The middleware, and the background refresh its keepWarm timer runs (exposed for tests). */
export type KeyAuthMiddleware = MiddlewareHandler<{ Variables: AuthVariables }> & { refreshActive(): Promise<void> };

type Lookup = AuthContext | null;
interface CacheEntry {
  value: Lookup;
  expiresAt: number;
  /** clock() of the last request that used it (keepWarm's notion of a key in use). */
  usedAt: number;
}

const WINDOW_MS = 60_000;
/** Every virtual key starts so (src/store/ids.ts); anything else is refused without touching the store. */
const KEY_PREFIX = 'tg_';
const MAX_KEY_LENGTH = 256;
const liveCaches = new Set<Map<string, CacheEntry>>();

/**
 * Forget cached key lookups in this process after a revocation, tenant or policy change through this instance:
 * those of one key, of one tenant, or (no argument) all of them.
 */
export function invalidateKeyCache(which?: { keyId?: string; tenantId?: string }): void {
  for (const cache of liveCaches) {
    if (!which) {
      cache.clear();
      continue;
    }
    for (const [secret, entry] of cache) {
      const v = entry.value;
      if (v && (v.key.id === which.keyId || v.tenant.id === which.tenantId)) cache.delete(secret);
    }
  }
}

/** SHA-256 hex of a key's secret: what the store keeps and looks keys up by. */
export function hashKey(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** The presented virtual key: `Authorization: Bearer tg_…`, or `x-api-key` (clients built for Anthropic-style auth). */
export function presentedKey(c: Context): string | null {
  return bearerToken(c.req.header('authorization')) ?? (c.req.header('x-api-key')?.trim() || null);
}

/** The TCP peer's address (never a client-set header such as x-forwarded-for), or 'unknown' without a socket. */
export function socketAddress(c: Context): string {
  // @hono/node-server exposes the socket as env.incoming; app.request() in tests has none.
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? 'unknown';
}

/**
 * The unit the failure limit counts: an IPv4 address, or the /64 of an IPv6 one (a single host usually holds a whole
 * /64, so counting single IPv6 addresses would let one machine rotate past the limit).
 */
export function addressBucket(ip: string): string {
  if (!ip.includes(':')) return ip;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1];
  const [head, tail = ''] = ip.split('%')[0].split('::');
  const left = head === '' ? [] : head.split(':');
  const right = ip.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

export interface FailureLimiter {
  /** Milliseconds until this address may try again, or 0. */
  blockedFor(ip: string, now: number): number;
  record(ip: string, now: number): void;
}

/** Sliding window of failure times per address; bounded in addresses and in entries per address. */
export function createFailureLimiter(max: number, maxIps = 10_000): FailureLimiter {
  const failures = new Map<string, number[]>();
  return {
    // Allocation-free for an address with no failures: this runs on every request.
    blockedFor(ip: string, now: number): number {
      const list = failures.get(ip);
      if (!list) return 0;
      while (list.length > 0 && list[0] <= now - WINDOW_MS) list.shift();
      if (list.length === 0) {
        failures.delete(ip);
        return 0;
      }
      return list.length >= max ? list[list.length - max] + WINDOW_MS - now : 0;
    },
    record(ip: string, now: number): void {
      let list = failures.get(ip);
      if (!list) {
        if (failures.size >= maxIps) failures.delete(failures.keys().next().value as string);
        list = [];
        failures.set(ip, list);
      }
      list.push(now);
      if (list.length > max) list.shift();
    },
  };
}

function rejection(code: 'invalid_api_key' | 'tenant_disabled', missing: boolean): GatewayError {
  if (code === 'tenant_disabled') return new GatewayError('tenant_disabled', 'This API key belongs to a disabled tenant.');
  return new GatewayError(
    'invalid_api_key',
    missing
      ? "You didn't provide an API key. Provide it as 'Authorization: Bearer tg_...'."
      : 'Incorrect API key provided.',
  );
}

/**
 * Middleware for /v1/*: sets `c.get('auth')` to the key and its tenant, or answers 401/403/429 (OpenAI-shaped).
 * @example app.use('/v1/*', createKeyAuth({ store, ttlMs: 2000, clock: () => new Date(), maxFailuresPerMinute: 30 }))
 */
export function createKeyAuth(options: KeyAuthOptions): KeyAuthMiddleware {
  const { store, ttlMs, clock } = options;
  const negativeTtlMs = options.negativeTtlMs ?? Math.min(ttlMs, 1000);
  const maxEntries = options.maxEntries ?? 10_000;
  const clientIp = options.clientIp ?? socketAddress;
  const limiter = createFailureLimiter(options.maxFailuresPerMinute);
  // Keyed by the presented secret, not its hash: a hit then costs one Map lookup and no hashing. The secret already
  // sits in this process's memory for every request; the store only ever sees the hash.
  const cache = new Map<string, CacheEntry>();
  const inflight = new Map<string, Promise<Lookup>>();
  liveCaches.add(cache);

  const remember = (secret: string, value: Lookup, expiresAt: number, usedAt: number): void => {
    cache.delete(secret); // re-inserted at the end, so the oldest-first eviction drops cold entries
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
    cache.set(secret, { value, expiresAt, usedAt });
  };

  const lookup = (secret: string, now: number): Promise<Lookup> => {
    let p = inflight.get(secret);
    if (p) return p;
    // Concurrent misses for one key share one store query.
    p = store
      .findKeyByHash(hashKey(secret))
      .then(
        (found) => {
          remember(secret, found, now + (found ? ttlMs : negativeTtlMs), now);
          return found;
        },
        (e: unknown) => {
          // Store unreachable: keep serving keys we knew (a revocation cannot have happened without the store either),
          // and ask again after another TTL rather than on every request.
          const stale = cache.get(secret);
          if (stale) {
            remember(secret, stale.value, now + ttlMs, now);
            return stale.value;
          }
          throw new GatewayError('service_unavailable', 'Authentication is temporarily unavailable.', { cause: e });
        },
      )
      .finally(() => inflight.delete(secret));
    inflight.set(secret, p);
    return p;
  };

  let sweeping: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;
  const keepWarm = options.keepWarm;

  /** One batched store query for the keys in use whose entry is in the second half of its TTL. */
  function refreshActive(): Promise<void> {
    if (sweeping) return sweeping;
    const now = clock().getTime();
    const due: { secret: string; entry: CacheEntry; hash: string }[] = [];
    let active = false;
    for (const [secret, entry] of cache) {
      if (entry.value === null || now - entry.usedAt > (keepWarm?.forMs ?? Infinity)) continue;
      active = true;
      const left = entry.expiresAt - now;
      // An expired entry is the next request's to look up (with its stale fallback): never silently extended here.
      if (left <= 0 || left >= ttlMs / 2 || inflight.has(secret)) continue;
      due.push({ secret, entry, hash: hashKey(secret) });
    }
    if (!active && timer) {
      clearInterval(timer);
      timer = null;
    }
    if (due.length === 0) return Promise.resolve();
    sweeping = store
      .findKeysByHash(due.map((d) => d.hash))
      .then(
        (found) => {
          for (const d of due) {
            // Replaced or dropped meanwhile (a fresher lookup, invalidateKeyCache): that state wins.
            if (cache.get(d.secret) !== d.entry) continue;
            const value = found.get(d.hash) ?? null;
            remember(d.secret, value, now + (value ? ttlMs : negativeTtlMs), d.entry.usedAt);
          }
        },
        // Store unreachable: the entries expire as usual and the requests after that ask (and fall back) themselves.
        () => {},
      )
      .finally(() => (sweeping = null));
    return sweeping;
  }

  const keyAuth = async function keyAuth(c, next) {
    const now = clock().getTime();
    const secret = presentedKey(c);
    if (secret === null) return errorResponse(c, rejection('invalid_api_key', true));
    const ip = addressBucket(clientIp(c));
    const wait = limiter.blockedFor(ip, now);
    if (wait > 0) {
      // Checked before the key itself: answering a right guess differently would tell the guesser it was right.
      return errorResponse(
        c,
        new GatewayError('too_many_auth_failures', 'Too many failed authentication attempts; try again later.', {
          headers: { 'retry-after': String(Math.ceil(wait / 1000)) },
        }),
      );
    }
    if (!secret.startsWith(KEY_PREFIX) || secret.length > MAX_KEY_LENGTH) {
      // Cannot be one of our keys: no hashing, no store query, no cache entry; still a failed guess.
      limiter.record(ip, now);
      return errorResponse(c, rejection('invalid_api_key', false));
    }

    const entry = cache.get(secret);
    let found: Lookup;
    try {
      if (entry !== undefined && entry.expiresAt > now) {
        found = entry.value;
        entry.usedAt = now;
        // Refresh ahead: a key in use is looked up again in the background during the second half of its TTL, so no
        // request of an active key waits for the store, and no cached answer is ever older than the TTL (the
        // revocation bound). Unknown keys are not refreshed: a guesser gets no extra store queries.
        if (found !== null && entry.expiresAt - now < ttlMs / 2) lookup(secret, now).catch(() => {});
      } else found = await lookup(secret, now);
    } catch (e) {
      if (e instanceof GatewayError) return errorResponse(c, e);
      throw e;
    }
    if (found === null) {
      limiter.record(ip, now);
      return errorResponse(c, rejection('invalid_api_key', false));
    }
    if (found.tenant.disabled) return errorResponse(c, rejection('tenant_disabled', false));
    c.set('auth', found);
    if (keepWarm && timer === null) {
      timer = setInterval(() => void refreshActive(), keepWarm.everyMs);
      timer.unref();
    }
    await next();
  } as KeyAuthMiddleware;
  keyAuth.refreshActive = refreshActive;
  return keyAuth;
}
