// One Redis round trip per request: a settlement waits for the next admission's write (or a short timer) instead of
// costing a write of its own, and Redis still sees every settlement before the admission that follows it.
// Counted on a private redis-server (INFO stats total_reads_processed: socket reads, one per round trip).
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Limiter } from '../../src/limits/interface.js';
import { createLimiterRedis, createRedisLimiter, sendLazily } from '../../src/limits/redis-limiter.js';
import { uniqueId } from '../support/services.js';
import { commandCalls, freePort, startRedisServer, stopRedisServer } from './support/redis.js';
import { daySpec, request, settlement, T0 } from './support/requests.js';

let server: ChildProcess | null = null;
let redis: Redis;
let probe: Redis;
let limiter: Limiter;
const BUDGET = 1_000_000_000_000n;

async function reads(): Promise<number> {
  const m = /total_reads_processed:(\d+)/.exec(await probe.info('stats'));
  return Number(m?.[1]);
}

beforeAll(async () => {
  const port = await freePort();
  server = await startRedisServer(port);
  redis = createLimiterRedis(`redis://127.0.0.1:${port}`); // the gateway's own client
  probe = new Redis(`redis://127.0.0.1:${port}`);
  await Promise.all([new Promise((r) => redis.once('ready', r)), probe.ping()]);
  limiter = createRedisLimiter({ redis, keyPrefix: uniqueId('tgrt'), seeder: async () => 0n, onFailure: 'fail_closed', reservationTtlS: 900 });
});

afterAll(async () => {
  await limiter?.close();
  redis?.disconnect();
  probe?.disconnect();
  await stopRedisServer(server);
});

describe('Redis round trips per request', () => {
  it('a settlement rides on the next admission: N requests in about N round trips, not 2N', async () => {
    const tenantId = uniqueId('t');
    const budgets = [daySpec(T0, BUDGET)];
    const n = 200;
    // The scripts are loaded (and the counter seeded) once, as on any warm gateway.
    const warm = request({ tenantId, budgets, reservePico: 10n });
    await limiter.admit(warm);
    await limiter.settle(settlement(warm, 5n));
    const before = await reads();
    const settled: Array<Promise<void>> = [];
    for (let i = 0; i < n; i++) {
      const req = request({ tenantId, budgets, reservePico: 1_000n, now: T0 + i });
      const r = await limiter.admit(req);
      expect(r.ok).toBe(true);
      settled.push(limiter.settle(settlement(req, 700n, 0, T0 + i))); // as the gateway: not awaited before the next request
      // The next request arrives later, on its own I/O event: a settlement sent right away would be a write of its own.
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(settled);
    const trips = (await reads()) - before - 1; // less the INFO that read the counter
    expect(trips).toBeGreaterThanOrEqual(n);
    // A stalled machine may let the odd timer fire first (an extra trip); two per request would be 2n.
    expect(trips).toBeLessThan(n * 1.25);
    // Nothing lost or reordered: every reservation turned into its actual cost.
    const [state] = await limiter.budgetState(tenantId, budgets);
    expect(state.spentPico).toBe(5n + 700n * BigInt(n));
  });

  it("a tenant's settlements ride inside its next admission's script: one script call per request, each applied once", async () => {
    const tenantId = uniqueId('t');
    const budgets = [daySpec(T0, BUDGET)];
    const tpm = { tpm: 10_000_000 };
    const warm = request({ tenantId, budgets, reservePico: 10n, tenant: tpm });
    await limiter.admit(warm);
    await limiter.settle(settlement(warm, 5n));
    const scripts = async () => {
      const c = await commandCalls(probe);
      return { scripts: (c.get('evalsha') ?? 0) + (c.get('eval') ?? 0), incrby: c.get('incrby') ?? 0 };
    };
    const before = await scripts();
    const n = 60;
    const settled: Array<Promise<void>> = [];
    for (let i = 0; i < n; i++) {
      const req = request({ tenantId, budgets, reservePico: 1_000n, tokens: 50, now: T0 + i, tenant: tpm });
      expect((await limiter.admit(req)).ok).toBe(true);
      settled.push(limiter.settle(settlement(req, 700n, 20, T0 + i)));
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(settled); // the last one has no admission after it: it leaves on its own (the timer)
    const after = await scripts();
    expect(after.scripts - before.scripts).toBeLessThanOrEqual(n + 1); // two calls per request would be 2n
    // Each request's one counter is written twice, once at its admission (the reservation) and once at its settlement
    // (the reservation given back and the actual cost charged, in one INCRBY): a settlement applied twice would be more.
    expect(after.incrby - before.incrby).toBe(2 * n);
    const [state] = await limiter.budgetState(tenantId, budgets);
    expect(state.spentPico).toBe(5n + 700n * BigInt(n));
  });

  it('a riding settlement is applied before the admission is judged, and stands when the admission is refused', async () => {
    const tenantId = uniqueId('t');
    const budgets = [daySpec(T0, 1_000n)];
    const r1 = request({ tenantId, budgets, reservePico: 900n });
    expect((await limiter.admit(r1)).ok).toBe(true);
    const before = await commandCalls(probe);
    const s1 = limiter.settle(settlement(r1, 100n)); // deferred: rides inside r2's admission
    // 100 spent + 800 fits in 1 000 only once r1's 900 reservation has turned into its 100.
    const r2 = request({ tenantId, budgets, reservePico: 800n });
    const a2 = await limiter.admit(r2);
    expect(a2.ok).toBe(true);
    expect(a2.budgets[0].spentPico).toBe(900n);
    await s1;
    const s2 = limiter.settle(settlement(r2, 850n));
    const a3 = await limiter.admit(request({ tenantId, budgets, reservePico: 200n })); // 950 + 200 > 1 000
    expect(a3.ok).toBe(false);
    await s2;
    const [state] = await limiter.budgetState(tenantId, budgets);
    expect(state.spentPico).toBe(950n); // both settlements applied, nothing of the refused admission
    const after = await commandCalls(probe);
    const calls = (m: Map<string, number>) => (m.get('evalsha') ?? 0) + (m.get('eval') ?? 0);
    expect(calls(after) - calls(before)).toBe(3); // r2, r3 and the state read: no script call of their own for s1, s2
  });

  it("a riding settlement's token-bucket correction is what the next admission sees, refused or not, as if sent on its own", async () => {
    // r1 estimated 100 tokens and used 700: its settlement moves the tenant's and its model's TPM buckets by +600. The
    // next admission (another model) reads the tenant's bucket after it. Then a settlement of −90 tokens rides on an
    // admission refused for tokens, and still stands.
    const run = async (riding: boolean) => {
      const tenantId = uniqueId('t');
      const limits = { tenant: { tpm: 1_000 }, modelLimits: { tpm: 5_000 } };
      const r1 = request({ tenantId, tokens: 100, model: 'm1', ...limits });
      expect((await limiter.admit(r1)).ok).toBe(true);
      const s1 = limiter.settle(settlement(r1, 0n, 700, T0 + 10));
      if (!riding) await limiter.budgetState(tenantId, []); // a state read sends it on its own first
      const r2 = request({ tenantId, tokens: 200, model: 'm2', now: T0 + 20, ...limits });
      const a2 = await limiter.admit(r2);
      await s1;
      const s2 = limiter.settle(settlement(r2, 0n, 110, T0 + 30));
      if (!riding) await limiter.budgetState(tenantId, []);
      const a3 = await limiter.admit(request({ tenantId, tokens: 400, model: 'm1', now: T0 + 40, ...limits }));
      await s2;
      const a4 = await limiter.admit(request({ tenantId, tokens: 0, model: 'm1', now: T0 + 50, ...limits }));
      return [a2, a3, a4].map((a) => ({ ok: a.ok, tokens: a.rate.remainingTokens, limit: a.rate.limitTokens }));
    };
    const sentAlone = await run(false);
    const riding = await run(true);
    // 1 000 − (100 + 600) − 200 = 100 left: the second admission fits; the third's 400 does not even after −90 (190).
    expect(sentAlone.map((a) => a.ok)).toEqual([true, false, true]);
    expect(sentAlone[0].tokens).toBe(100);
    expect(sentAlone[1].tokens).toBe(190);
    expect(riding).toEqual(sentAlone);
  });

  it('a settlement sent twice is charged once, even when it rides on an admission made after its tombstone expired', async () => {
    // reservation_ttl 1 s: r1's tombstone lives until T0 + 10 + 1 000 ms. The second copy of its settlement (a replay
    // after a lost answer) carries T0 + 20, but rides on an admission made ten minutes later: pruned at the admission's
    // instant, the tombstone would be gone and the copy charged again.
    const own = createRedisLimiter({ redis, keyPrefix: uniqueId('tgdup'), seeder: async () => 0n, onFailure: 'fail_closed', reservationTtlS: 1 });
    const tenantId = uniqueId('t');
    const budgets = [daySpec(T0, BUDGET)];
    const r1 = request({ tenantId, budgets, reservePico: 1_000n });
    expect((await own.admit(r1)).ok).toBe(true);
    await own.settle(settlement(r1, 300n, r1.tokens, T0 + 10));
    const copy = own.settle(settlement(r1, 300n, r1.tokens, T0 + 20)); // deferred: rides inside the next admission
    const later = await own.admit(request({ tenantId, budgets, reservePico: 0n, now: T0 + 600_000 }));
    await copy;
    expect(later.ok).toBe(true);
    expect(later.budgets[0].spentPico).toBe(300n);
    const [state] = await own.budgetState(tenantId, budgets);
    expect(state.spentPico).toBe(300n);
    await own.close();
  });

  it('close() waits for the settlements riding in an admission Redis has not answered yet, however many call it', async () => {
    const own = createRedisLimiter({ redis, keyPrefix: uniqueId('tgclose'), seeder: async () => 0n, onFailure: 'fail_closed', reservationTtlS: 900 });
    const tenantId = uniqueId('t');
    const budgets = [daySpec(T0, BUDGET)];
    const r1 = request({ tenantId, budgets, reservePico: 1_000n });
    await own.admit(r1);
    let landed = false;
    void own.settle(settlement(r1, 7n)).then(() => (landed = true)); // deferred: rides inside r2's admission
    const r2 = own.admit(request({ tenantId, budgets, reservePico: 1_000n }));
    await Promise.all([own.close(), own.close()]); // e.g. a shutdown signal arriving twice
    expect(landed).toBe(true);
    expect((await r2).ok).toBe(true);
    const [state] = await own.budgetState(tenantId, budgets);
    expect(state.spentPico).toBe(7n + 1_000n);
  });

  it('a settlement with no admission after it still goes out on its own (the timer), and a state read sees it', async () => {
    const tenantId = uniqueId('t');
    const budgets = [daySpec(T0, BUDGET)];
    const req = request({ tenantId, budgets, reservePico: 1_000n });
    await limiter.admit(req);
    await limiter.settle(settlement(req, 123n)); // resolves once Redis has it, with nothing else to ride on
    const [state] = await limiter.budgetState(tenantId, budgets);
    expect(state.spentPico).toBe(123n);
  });

  it('a state read right after a settlement flushes it first: the actual cost, not the reservation', async () => {
    const tenantId = uniqueId('t');
    const budgets = [daySpec(T0, BUDGET)];
    const req = request({ tenantId, budgets, reservePico: 1_000_000n });
    await limiter.admit(req);
    void limiter.settle(settlement(req, 42n));
    const [state] = await limiter.budgetState(tenantId, budgets);
    expect(state.spentPico).toBe(42n);
  });

  it('requests admitted in the same turn of the event loop share one socket write (and the settlements before them)', async () => {
    const tenantId = uniqueId('t');
    const budgets = [daySpec(T0, BUDGET)];
    const warm = request({ tenantId, budgets, reservePico: 10n });
    await limiter.admit(warm);
    const before = await reads();
    void limiter.settle(settlement(warm, 5n)); // deferred: goes out with the batch below
    // The writes the socket makes (one per chunk through _write, one per corked batch through _writev).
    const socket = redis.stream as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
    const original = { _write: socket._write, _writev: socket._writev };
    let writes = 0;
    socket._write = function (this: unknown, ...a: unknown[]) {
      writes++;
      return original._write.apply(this, a);
    };
    socket._writev = function (this: unknown, ...a: unknown[]) {
      writes++;
      return original._writev.apply(this, a);
    };
    const n = 50;
    let results;
    try {
      results = await Promise.all(
        Array.from({ length: n }, (_, i) => limiter.admit(request({ tenantId, budgets, reservePico: 1_000n, now: T0 + i }))),
      );
    } finally {
      Object.assign(socket, original);
    }
    expect(results.every((r) => r.ok)).toBe(true);
    expect(writes).toBe(1);
    expect((await reads()) - before - 1).toBeLessThanOrEqual(2); // Redis reads the batch at once (less the INFO)
    // The settlement went first: its actual cost is spent, and the 50 reservations are held on top.
    const [state] = await limiter.budgetState(tenantId, budgets);
    expect(state.spentPico).toBe(5n + 1_000n * BigInt(n));
  });

  it('a command sent lazily waits for company or its timer; any other command sends the batch, lazy ones first', async () => {
    const key = uniqueId('lazy');
    const socket = redis.stream as unknown as { writableCorked: number };
    const turn = () => new Promise((r) => setImmediate(r));
    const first = sendLazily(redis, (k) => redis.set(k, '1'), key, null);
    await turn();
    expect(socket.writableCorked).toBe(1); // held past the end of the turn (an admission that went ahead)
    const second = redis.incr(key); // sent as usual: at the end of this turn, with the held one ahead of it
    await turn();
    expect(socket.writableCorked).toBe(0);
    expect(await first).toBe('OK');
    expect(await second).toBe(2); // the SET went first
    // Alone, a lazy command still leaves (its timer), and the client batches as before afterwards.
    expect(await sendLazily(redis, (k) => redis.incr(k), key, null)).toBe(3);
    expect(socket.writableCorked).toBe(0);
    expect(await redis.incr(key)).toBe(4);
  });
});
