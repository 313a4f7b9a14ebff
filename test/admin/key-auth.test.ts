// Virtual-key auth middleware: cache TTL with an injected clock, revocation bound, brute-force limit, store outage.
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { addressBucket, createKeyAuth, hashKey, invalidateKeyCache, socketAddress, type AuthVariables } from '../../src/http/auth.js';
import type { Store } from '../../src/store/interface.js';
import { backends, bearer, createClock, createTestApp } from './harness.js';

/** The real store, with findKeyByHash counted and switchable to failing (a database outage). */
function instrument(store: Store): { store: Store; calls: () => number; fail: (on: boolean) => void } {
  let calls = 0;
  let failing = false;
  const wrapped: Store = Object.create(store) as Store;
  wrapped.findKeyByHash = async (hash: string) => {
    calls += 1;
    if (failing) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
    return store.findKeyByHash(hash);
  };
  return { store: wrapped, calls: () => calls, fail: (on) => (failing = on) };
}

describe('key auth', () => {
  let base: Store;
  let close: () => Promise<void>;
  let tenantId: string;

  beforeAll(async () => {
    ({ store: base, close } = await backends.find((b) => b.name === 'postgres')!.open());
    tenantId = (await base.createTenant({ name: 'auth-tests', policy: (await import('../../src/routing/policy.js')).defaultPolicy })).id;
  });
  afterAll(async () => close());

  async function newKey(): Promise<{ id: string; secret: string }> {
    const created = await base.createKey(tenantId, 'k');
    if (!created) throw new Error('tenant vanished');
    return { id: created.key.id, secret: created.secret };
  }

  it('stores only the hash: the lookup is by sha256 of the secret', async () => {
    const k = await newKey();
    expect((await base.findKeyByHash(hashKey(k.secret)))?.key.id).toBe(k.id);
    expect(await base.findKeyByHash(k.secret)).toBeNull();
  });

  it('a key revoked on another instance stops working once the cache TTL has passed', async () => {
    const clock = createClock();
    const inst = instrument(base);
    const app = createTestApp({ store: inst.store, clock: clock.now, ttlMs: 2000 });
    const k = await newKey();
    expect((await app.request('/v1/whoami', { headers: bearer(k.secret) })).status).toBe(200);
    // Revoked directly in the store: this instance's cache is not told, as on a second gateway instance.
    await base.revokeKey(k.id);
    clock.advance(1999);
    expect((await app.request('/v1/whoami', { headers: bearer(k.secret) })).status).toBe(200);
    clock.advance(2);
    const res = await app.request('/v1/whoami', { headers: bearer(k.secret) });
    expect(res.status).toBe(401);
    expect(inst.calls()).toBe(2);
  });

  it('hits the store once per key per TTL, and once for concurrent misses', async () => {
    const clock = createClock();
    const inst = instrument(base);
    const app = createTestApp({ store: inst.store, clock: clock.now, ttlMs: 2000 });
    const k = await newKey();
    const statuses = await Promise.all(Array.from({ length: 20 }, () => app.request('/v1/whoami', { headers: bearer(k.secret) })));
    expect(statuses.map((r) => r.status)).toEqual(Array(20).fill(200));
    for (let i = 0; i < 10; i++) await app.request('/v1/whoami', { headers: bearer(k.secret) });
    expect(inst.calls()).toBe(1);
    clock.advance(2001);
    await app.request('/v1/whoami', { headers: bearer(k.secret) });
    expect(inst.calls()).toBe(2);
  });

  it('refreshes a key in use in the background: after the first, no request waits for the store', async () => {
    const clock = createClock();
    let calls = 0;
    let gate: Promise<void> = Promise.resolve();
    let open: () => void = () => {};
    let last: Promise<unknown> = Promise.resolve();
    const gated: Store = Object.create(base) as Store;
    gated.findKeyByHash = (hash: string) => {
      calls += 1;
      const p = gate.then(() => base.findKeyByHash(hash));
      last = p;
      return p;
    };
    const app = createTestApp({ store: gated, clock: clock.now, ttlMs: 2000 });
    const k = await newKey();
    expect((await app.request('/v1/whoami', { headers: bearer(k.secret) })).status).toBe(200);
    expect(calls).toBe(1);
    // From now on the store answers only when the test says so: a request that waited for it would never finish.
    gate = new Promise((resolve) => (open = resolve));
    clock.advance(999); // first half of the TTL: served from the cache, nothing asked
    expect((await app.request('/v1/whoami', { headers: bearer(k.secret) })).status).toBe(200);
    expect(calls).toBe(1);
    clock.advance(501); // second half: served from the cache at once, a refresh goes to the store meanwhile
    expect((await app.request('/v1/whoami', { headers: bearer(k.secret) })).status).toBe(200);
    expect((await app.request('/v1/whoami', { headers: bearer(k.secret) })).status).toBe(200);
    expect(calls).toBe(2); // one refresh, shared
    open();
    await last;
    await new Promise((r) => setImmediate(r)); // the cache is updated in the lookup's own continuation
    clock.advance(1000); // past the first answer's TTL (2000), within the refreshed one (1500 + 2000)
    expect((await app.request('/v1/whoami', { headers: bearer(k.secret) })).status).toBe(200);
    expect(calls).toBe(2);
  });

  it('a revocation seen by the background refresh takes effect within the TTL', async () => {
    const clock = createClock();
    let last: Promise<unknown> = Promise.resolve();
    const watched: Store = Object.create(base) as Store;
    watched.findKeyByHash = (hash: string) => (last = base.findKeyByHash(hash)) as ReturnType<Store['findKeyByHash']>;
    const app = createTestApp({ store: watched, clock: clock.now, ttlMs: 2000 });
    const k = await newKey();
    expect((await app.request('/v1/whoami', { headers: bearer(k.secret) })).status).toBe(200);
    await base.revokeKey(k.id);
    clock.advance(1500);
    expect((await app.request('/v1/whoami', { headers: bearer(k.secret) })).status).toBe(200); // cached; refresh starts
    await last;
    await new Promise((r) => setImmediate(r));
    clock.advance(100); // still inside the first TTL, but the refresh has seen the revocation
    expect((await app.request('/v1/whoami', { headers: bearer(k.secret) })).status).toBe(401);
  });

  it('invalidateKeyCache() makes a same-instance revocation immediate', async () => {
    const clock = createClock();
    const app = createTestApp({ store: base, clock: clock.now, ttlMs: 60_000 });
    const k = await newKey();
    expect((await app.request('/v1/whoami', { headers: bearer(k.secret) })).status).toBe(200);
    await base.revokeKey(k.id);
    invalidateKeyCache();
    expect((await app.request('/v1/whoami', { headers: bearer(k.secret) })).status).toBe(401);
  });

  it('invalidateKeyCache({ keyId }) drops that key only; others stay cached', async () => {
    const clock = createClock();
    const inst = instrument(base);
    const app = createTestApp({ store: inst.store, clock: clock.now, ttlMs: 60_000 });
    const [a, b] = [await newKey(), await newKey()];
    for (const k of [a, b]) expect((await app.request('/v1/whoami', { headers: bearer(k.secret) })).status).toBe(200);
    await base.revokeKey(a.id);
    invalidateKeyCache({ keyId: a.id });
    expect((await app.request('/v1/whoami', { headers: bearer(a.secret) })).status).toBe(401);
    expect((await app.request('/v1/whoami', { headers: bearer(b.secret) })).status).toBe(200);
    expect(inst.calls()).toBe(3);
  });

  it('accepts x-api-key, and says so when no key is given', async () => {
    const app = createTestApp({ store: base });
    const k = await newKey();
    expect((await app.request('/v1/whoami', { headers: { 'x-api-key': k.secret } })).status).toBe(200);
    const none = await app.request('/v1/whoami');
    expect(none.status).toBe(401);
    const body = (await none.json()) as { error: { message: string; code: string; type: string; param: null } };
    expect(body.error).toMatchObject({ code: 'invalid_api_key', type: 'invalid_request_error', param: null });
    expect(body.error.message).toMatch(/didn't provide/);
  });

  it('slows brute force: 429 per client IP after the failure limit, until the window passes', async () => {
    const clock = createClock();
    const app = createTestApp({ store: base, clock: clock.now, maxFailuresPerMinute: 5 });
    const k = await newKey();
    const from = (ip: string, key: string) => app.request('/v1/whoami', { headers: { ...bearer(key), 'x-test-ip': ip } });
    for (let i = 0; i < 5; i++) {
      expect((await from('198.51.100.7', `tg_guess${i}`)).status).toBe(401);
      clock.advance(1000);
    }
    const blocked = await from('198.51.100.7', 'tg_guess5');
    expect(blocked.status).toBe(429);
    expect(((await blocked.json()) as { error: { code: string } }).error.code).toBe('too_many_auth_failures');
    // The oldest of the five failures (at t0) leaves the 60 s window at t0 + 60 s; the clock is at t0 + 5 s.
    expect(Number(blocked.headers.get('retry-after'))).toBe(55);
    // Even the right key is refused from that address (else the limiter would confirm a successful guess) …
    expect((await from('198.51.100.7', k.secret)).status).toBe(429);
    // … while another address is not affected.
    expect((await from('198.51.100.8', k.secret)).status).toBe(200);
    clock.advance(54_999);
    expect((await from('198.51.100.7', k.secret)).status).toBe(429);
    clock.advance(1);
    expect((await from('198.51.100.7', k.secret)).status).toBe(200);
  });

  it('refuses what cannot be a key without asking the store, counting it as a failure', async () => {
    const inst = instrument(base);
    const app = createTestApp({ store: inst.store, maxFailuresPerMinute: 3 });
    for (const key of ['sk-openai-looking', `tg_${'x'.repeat(300)}`, 'Bearer']) {
      expect((await app.request('/v1/whoami', { headers: { ...bearer(key), 'x-test-ip': '203.0.113.77' } })).status).toBe(401);
    }
    expect(inst.calls()).toBe(0);
    expect((await app.request('/v1/whoami', { headers: { ...bearer('tg_x'), 'x-test-ip': '203.0.113.77' } })).status).toBe(429);
  });

  it('counts IPv6 failures per /64, so one host cannot rotate addresses past the limit', async () => {
    const app = createTestApp({ store: base, maxFailuresPerMinute: 3 });
    const from = (ip: string) => app.request('/v1/whoami', { headers: { ...bearer('tg_wrong'), 'x-test-ip': ip } });
    for (const ip of ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:aaaa::3']) expect((await from(ip)).status).toBe(401);
    expect((await from('2001:db8:1:2:ffff:ffff:ffff:ffff')).status).toBe(429);
    expect((await from('2001:db8:1:3::1')).status).toBe(401);
    expect(addressBucket('2001:0db8:0001:0002:0:0:0:9')).toBe('2001:db8:1:2::/64');
    expect(addressBucket('::ffff:192.0.2.1')).toBe('192.0.2.1');
  });

  it('over real HTTP, counts failures by the TCP peer address and ignores a forged x-forwarded-for', async () => {
    const app = createTestApp({ store: base, maxFailuresPerMinute: 2, clientIp: 'socket' });
    app.get('/peer', (c) => c.text(socketAddress(c)));
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const { port } = server.address() as AddressInfo;
    try {
      const hit = (i: number) =>
        fetch(`http://127.0.0.1:${port}/v1/whoami`, { headers: { ...bearer('tg_wrong'), 'x-forwarded-for': `198.18.0.${i}` } });
      expect((await hit(1)).status).toBe(401);
      expect((await hit(2)).status).toBe(401);
      expect((await hit(3)).status).toBe(429);
      expect(await (await fetch(`http://127.0.0.1:${port}/peer`, { headers: { 'x-forwarded-for': '198.18.0.9' } })).text()).toBe('127.0.0.1');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('missing keys do not count as failed guesses', async () => {
    const app = createTestApp({ store: base, maxFailuresPerMinute: 2 });
    for (let i = 0; i < 5; i++) expect((await app.request('/v1/whoami', { headers: { 'x-test-ip': '203.0.113.9' } })).status).toBe(401);
    const k = await newKey();
    expect((await app.request('/v1/whoami', { headers: { ...bearer(k.secret), 'x-test-ip': '203.0.113.9' } })).status).toBe(200);
  });

  it('keeps serving known keys while the store is down, and answers 503 for keys it cannot check', async () => {
    const clock = createClock();
    const inst = instrument(base);
    const app = createTestApp({ store: inst.store, clock: clock.now, ttlMs: 2000 });
    const k = await newKey();
    expect((await app.request('/v1/whoami', { headers: bearer(k.secret) })).status).toBe(200);
    inst.fail(true);
    clock.advance(5000);
    expect((await app.request('/v1/whoami', { headers: bearer(k.secret) })).status).toBe(200);
    const calls = inst.calls();
    // The failed lookup is not retried on every request, only once per TTL.
    expect((await app.request('/v1/whoami', { headers: bearer(k.secret) })).status).toBe(200);
    expect(inst.calls()).toBe(calls);
    const other = await newKey();
    const res = await app.request('/v1/whoami', { headers: bearer(other.secret) });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('service_unavailable');
    inst.fail(false);
    clock.advance(2001);
    expect((await app.request('/v1/whoami', { headers: bearer(other.secret) })).status).toBe(200);
  });

  describe('keep-warm: keys in use are refreshed in the background, in one query', () => {
    /** The store with both lookups counted; the single lookup can be made to hang (a request that waits never ends). */
    function counted() {
      const n = { single: 0, batch: 0, batchSizes: [] as number[] };
      let hang = false;
      const store: Store = Object.create(base) as Store;
      store.findKeyByHash = (hash: string) => {
        n.single += 1;
        return hang ? new Promise(() => {}) : base.findKeyByHash(hash);
      };
      store.findKeysByHash = (hashes: readonly string[]) => {
        n.batch += 1;
        n.batchSizes.push(hashes.length);
        return base.findKeysByHash(hashes);
      };
      return { store, n, hang: () => (hang = true) };
    }

    function appWith(store: Store, clock: () => Date, keepWarm?: { everyMs: number; forMs: number }, ttlMs = 2000) {
      const auth = createKeyAuth({ store, ttlMs, clock, maxFailuresPerMinute: 30, clientIp: () => '192.0.2.1', keepWarm });
      const app = new Hono<{ Variables: AuthVariables }>();
      app.use('/v1/*', auth);
      app.get('/v1/whoami', (c) => c.json({ key: c.get('auth').key.id }));
      return { app, auth };
    }

    it('a key used less often than the TTL is refreshed by the sweep, not by its next request', async () => {
      const clock = createClock();
      const s = counted();
      const { app, auth } = appWith(s.store, clock.now);
      const [a, b, idle] = [await newKey(), await newKey(), await newKey()];
      for (const k of [a, b, idle]) expect((await app.request('/v1/whoami', { headers: bearer(k.secret) })).status).toBe(200);
      expect(s.n.single).toBe(3);
      await auth.refreshActive(); // first half of the TTL: nothing is due
      expect(s.n.batch).toBe(0);
      clock.advance(1500);
      await auth.refreshActive();
      expect(s.n.batchSizes).toEqual([3]); // all three in one query
      s.hang(); // from now on a request that asked the store would never finish
      clock.advance(600); // past the first answers' TTL (2000), early in the refreshed one (1500 + 2000)
      for (const k of [a, b]) expect((await app.request('/v1/whoami', { headers: bearer(k.secret) })).status).toBe(200);
      expect(s.n.single).toBe(3);
    });

    it('a key not used within forMs is left to expire', async () => {
      const clock = createClock();
      const s = counted();
      const { app, auth } = appWith(s.store, clock.now, undefined, 60_000);
      const k = await newKey();
      expect((await app.request('/v1/whoami', { headers: bearer(k.secret) })).status).toBe(200);
      const warm = appWith(s.store, clock.now, { everyMs: 3_600_000, forMs: 10_000 }, 60_000);
      expect((await warm.app.request('/v1/whoami', { headers: bearer(k.secret) })).status).toBe(200);
      clock.advance(45_000); // second half of the TTL, but last used 45 s ago: past forMs (10 s)
      await warm.auth.refreshActive();
      expect(s.n.batch).toBe(0);
      await auth.refreshActive(); // no keepWarm: every key counts as in use, so it is refreshed
      expect(s.n.batch).toBe(1);
    });

    it('a revocation seen by the sweep takes effect at once; a key dropped by invalidateKeyCache meanwhile is not put back', async () => {
      const clock = createClock();
      const s = counted();
      const { app, auth } = appWith(s.store, clock.now);
      const [revoked, dropped] = [await newKey(), await newKey()];
      for (const k of [revoked, dropped]) expect((await app.request('/v1/whoami', { headers: bearer(k.secret) })).status).toBe(200);
      await base.revokeKey(revoked.id); // on "another instance": this cache is not told
      clock.advance(1500);
      const sweep = auth.refreshActive();
      invalidateKeyCache({ keyId: dropped.id }); // while the sweep's query is out
      await sweep;
      expect((await app.request('/v1/whoami', { headers: bearer(revoked.secret) })).status).toBe(401);
      expect(s.n.single).toBe(2); // the revoked key's 401 came from the sweep's answer, not a new lookup
      expect((await app.request('/v1/whoami', { headers: bearer(dropped.secret) })).status).toBe(200);
      expect(s.n.single).toBe(3); // the dropped key was looked up again
    });

    it('the timer refreshes keys in use on its own and stops when none is', { timeout: 30_000 }, async () => {
      const s = counted();
      const { app } = appWith(s.store, () => new Date(), { everyMs: 20, forMs: 400 }, 200);
      const k = await newKey();
      expect((await app.request('/v1/whoami', { headers: bearer(k.secret) })).status).toBe(200);
      // Refreshed repeatedly within the 400 ms it counts as in use (a TTL of 200 ms)...
      await expect.poll(() => s.n.batch, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
      // ...then no longer: the count settles.
      let last = -1;
      await expect
        .poll(
          () => {
            const moved = s.n.batch !== last;
            last = s.n.batch;
            return moved;
          },
          { interval: 500, timeout: 10_000 },
        )
        .toBe(false);
      expect(s.n.single).toBe(1);
    });
  });
});
