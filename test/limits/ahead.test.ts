// Admission ahead of Redis (src/limits/ahead.ts): far from every limit a request does not wait for Redis' answer; the
// answer Redis then gives is the one it would have given anyway (for one instance), and another instance taking the
// room is seen, counted and charged.
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileConfigSchema } from '../../src/config/schema.js';
import type { AheadOptions } from '../../src/limits/ahead.js';
import type { AdmitRequest, AdmitResult, Limiter } from '../../src/limits/interface.js';
import { type AdmissionPath, createLimiterRedis, createRedisLimiter, LAZY_MS, type RedisLimiterOptions } from '../../src/limits/redis-limiter.js';
import { REDIS_URL, uniqueId } from '../support/services.js';
import { deleteKeys } from './support/redis.js';
import { daySpec, monthSpec, request, settlement, T0 } from './support/requests.js';
import { runSequence, type SequenceSetup } from './support/sequences.js';

const keyPrefix = uniqueId('tgah');
let redis: Redis;
let other: Redis;

beforeAll(async () => {
  redis = createLimiterRedis(REDIS_URL);
  other = createLimiterRedis(REDIS_URL);
  await Promise.all([redis, other].map((r) => (r.status === 'ready' ? null : new Promise((ok) => r.once('ready', ok)))));
});

afterAll(async () => {
  await deleteKeys(redis, keyPrefix);
  redis.disconnect();
  other.disconnect();
});

const AHEAD: AheadOptions = { headroom: 0.5, maxAgeMs: 1000, roomRequests: 100 };

/** How each limiter decided its last admission (its onAdmission hook). */
const lastPath = new WeakMap<Limiter, AdmissionPath>();

function limiterOn(client: Redis, o: Partial<RedisLimiterOptions> = {}): Limiter {
  let self: Limiter | null = null;
  self = createRedisLimiter({
    redis: client,
    keyPrefix,
    seeder: async () => 0n,
    onFailure: 'fail_closed',
    reservationTtlS: 900,
    ...o,
    onAdmission: (path) => {
      if (self) lastPath.set(self, path);
      o.onAdmission?.(path);
    },
  });
  return self;
}

/** Admits and tells whether the answer came before Redis had answered (the limiter's own account of it). */
async function admitSeen(limiter: Limiter, req: AdmitRequest): Promise<{ r: AdmitResult; ahead: boolean }> {
  lastPath.delete(limiter);
  const r = await limiter.admit(req);
  return { r, ahead: lastPath.get(limiter) === 'ahead' };
}

/** Limits no request here comes near: 100 000 requests and 10 M tokens a minute, a daily budget of 1 000 000 000 pico. */
const FAR = { tenant: { rpm: 100_000, tpm: 10_000_000 }, budgets: [daySpec(T0, 1_000_000_000n)] };
const farFromLimits = (o: Parameters<typeof request>[0]) => request({ tokens: 50, reservePico: 1_000n, ...FAR, ...o });

/** Every command sent so far has been answered, and what its answer set off has run. */
const settledNow = async (client: Redis) => {
  // Admissions that went ahead leave in their tenant's batch when its window closes (a timer set before this one).
  await new Promise((r) => setTimeout(r, LAZY_MS + 1));
  await client.ping(); // answered after every command sent before it
  await new Promise((r) => setImmediate(r));
};

describe('admission ahead of Redis', () => {
  it('by default a reading a few seconds old still holds (a client sending every few seconds, back-to-back streams)', async () => {
    const l = fileConfigSchema.parse({}).limits;
    const limiter = limiterOn(redis, { ahead: { headroom: l.admit_ahead_headroom, maxAgeMs: l.admit_ahead_max_age_ms, roomRequests: l.admit_ahead_room_requests } });
    const tenantId = uniqueId('t');
    expect((await admitSeen(limiter, farFromLimits({ tenantId, now: T0 }))).ahead).toBe(false); // no reading yet
    await settledNow(redis);
    // 3 s later: the reading the answer renewed at T0 still holds.
    expect((await admitSeen(limiter, farFromLimits({ tenantId, now: T0 + 3_000 }))).ahead).toBe(true);
    await settledNow(redis);
    // 6 s after the last answer: waits.
    expect((await admitSeen(limiter, farFromLimits({ tenantId, now: T0 + 9_000 }))).ahead).toBe(false);
    await limiter.close();
  });

  it('goes ahead only with a fresh reading far from every limit, and otherwise waits as before', async () => {
    const limiter = limiterOn(redis, { ahead: AHEAD });
    const tenantId = uniqueId('t');
    const ask = farFromLimits;

    // No reading yet: waits.
    expect((await admitSeen(limiter, ask({ tenantId, now: T0 }))).ahead).toBe(false);
    // A fresh reading far from the limits: goes ahead, with the x-ratelimit state counted down from it.
    const first = await admitSeen(limiter, ask({ tenantId, now: T0 + 10 }));
    expect(first.ahead).toBe(true);
    expect(first.r).toMatchObject({ ok: true, rate: { limitRequests: 100_000, remainingRequests: 99_998 } });
    const second = await admitSeen(limiter, ask({ tenantId, now: T0 + 20 }));
    expect(second.ahead).toBe(true);
    expect(second.r).toMatchObject({ ok: true, rate: { remainingRequests: 99_997 } });
    await settledNow(redis);
    // Redis took every one of them: the reservations are in the counter.
    expect((await limiter.budgetState(tenantId, FAR.budgets))[0].spentPico).toBe(3_000n);

    // A stale reading, another key (no reading of its own), a changed limit, a new budget period: wait.
    expect((await admitSeen(limiter, ask({ tenantId, now: T0 + 5_000 }))).ahead).toBe(false);
    expect((await admitSeen(limiter, ask({ tenantId, now: T0 + 5_010, keyId: 'key_b' }))).ahead).toBe(false);
    expect((await admitSeen(limiter, ask({ tenantId, now: T0 + 5_020, tenant: { rpm: 90_000, tpm: 10_000_000 } }))).ahead).toBe(false);
    const tomorrow = T0 + 86_400_000;
    expect((await admitSeen(limiter, ask({ tenantId, now: tomorrow, budgets: [daySpec(tomorrow, 1_000_000_000n)] }))).ahead).toBe(false);

    // Near an edge: a limit of 100 requests a minute never goes ahead (room for 100 more requests), nor does half a
    // budget spent.
    const small = uniqueId('t');
    for (let i = 0; i < 4; i++) {
      const seen = await admitSeen(limiter, request({ tenantId: small, now: T0 + i, tenant: { rpm: 100 } }));
      expect(seen.ahead).toBe(false);
      expect(seen.r.ok).toBe(true);
    }
    const spender = uniqueId('t');
    const budget = [daySpec(T0, 100_000_000n)];
    expect((await admitSeen(limiter, request({ tenantId: spender, budgets: budget, reservePico: 40_000_000n }))).ahead).toBe(false);
    expect((await admitSeen(limiter, request({ tenantId: spender, budgets: budget, reservePico: 10_000n, now: T0 + 1 }))).ahead).toBe(true);
    // 40.01 M + 10 M would leave less than half of 100 M.
    expect((await admitSeen(limiter, request({ tenantId: spender, budgets: budget, reservePico: 10_000_000n, now: T0 + 2 }))).ahead).toBe(false);
    await limiter.close();
  });

  it('a settlement follows the admission that went ahead of it; a reset, or counters found missing, drop the readings', async () => {
    let seedGate: Promise<void> = Promise.resolve();
    let ledgerSpend = 0n;
    const seeder = async () => {
      await seedGate;
      return ledgerSpend;
    };
    const limiter = limiterOn(redis, { ahead: AHEAD, seeder });
    const tenantId = uniqueId('t');
    const budgets = [daySpec(T0, 1_000_000_000n)];
    await limiter.admit(request({ tenantId, budgets, reservePico: 1_000n }));
    const req = request({ tenantId, budgets, reservePico: 1_000n, now: T0 + 1 });
    expect((await admitSeen(limiter, req)).ahead).toBe(true);
    // Settled before Redis has answered the admission: Redis must still see admission, then settlement.
    await limiter.settle(settlement(req, 300n));
    await settledNow(redis);
    expect((await limiter.budgetState(tenantId, budgets))[0].spentPico).toBe(1_300n);
    // A second settlement of the same request changes nothing (the record says settled, not "no reservation").
    await limiter.settle(settlement(req, 300n));
    await settledNow(redis);
    expect((await limiter.budgetState(tenantId, budgets))[0].spentPico).toBe(1_300n);

    await limiter.resetBudgets(tenantId);
    expect((await admitSeen(limiter, request({ tenantId, budgets, reservePico: 1_000n, now: T0 + 2 }))).ahead).toBe(false);

    // Counters gone behind the limiter's back (evicted, flushed) while the ledger knows more spend than Redis had: the
    // admission that went ahead finds them missing, and until they are seeded again no request goes ahead on the old
    // reading; then the readings start again from the retry's answer.
    expect((await admitSeen(limiter, request({ tenantId, budgets, reservePico: 1_000n, now: T0 + 3 }))).ahead).toBe(true);
    await settledNow(redis);
    const counters = await redis.keys(`${keyPrefix}:{t:${tenantId}}:b:*`);
    expect(counters.length).toBe(1);
    await redis.del(...counters);
    let open: () => void = () => {};
    seedGate = new Promise<void>((r) => (open = r));
    ledgerSpend = 500_000n;
    expect((await admitSeen(limiter, request({ tenantId, budgets, reservePico: 1_000n, now: T0 + 4 }))).ahead).toBe(true);
    await settledNow(redis); // Redis has answered 'seed'; the ledger has not answered yet
    let waited = true;
    const meanwhile = limiter.admit(request({ tenantId, budgets, reservePico: 1_000n, now: T0 + 5 })).then((r) => ((waited = false), r));
    await settledNow(redis);
    expect(waited).toBe(true);
    open();
    expect((await meanwhile).budgets[0].spentPico).toBe(502_000n);
    const next = await admitSeen(limiter, request({ tenantId, budgets, reservePico: 1_000n, now: T0 + 6 }));
    expect(next.ahead).toBe(true);
    expect(next.r.budgets[0].spentPico).toBe(503_000n);
    await limiter.close();
  });

  it('another instance taking the room: Redis refuses the admission sent ahead, it is counted and charged, and the next request waits and is refused', async () => {
    const refusedAhead: AdmitResult[] = [];
    const a = limiterOn(redis, { ahead: { ...AHEAD, roomRequests: 0 }, onRefusedAhead: (_req, r) => refusedAhead.push(r) });
    const b = limiterOn(other);
    const tenantId = uniqueId('t');
    const limits = { tenant: { tpm: 1_000 }, budgets: [daySpec(T0, 1_000_000_000n, 'soft')] };
    expect((await a.admit(request({ tenantId, tokens: 10, ...limits }))).ok).toBe(true);
    // B takes nearly all that is left; A's reading (990 free) does not know.
    expect((await b.admit(request({ tenantId, tokens: 985, now: T0 + 1, ...limits }))).ok).toBe(true);
    const late = request({ tenantId, tokens: 10, now: T0 + 2, ...limits });
    const seen = await admitSeen(a, late);
    expect(seen).toMatchObject({ ahead: true, r: { ok: true } });
    await settledNow(redis);
    expect(refusedAhead).toEqual([expect.objectContaining({ ok: false, reason: 'tokens' })]);
    // The request was served: its settlement still charges what it cost (no reservation record: charged as late).
    await a.settle(settlement(late, 7_000n, 10));
    await settledNow(redis);
    expect((await a.budgetState(tenantId, limits.budgets))[0].spentPico).toBe(7_000n);
    // Redis' refusal was a reading too: the next request waits for Redis, which refuses it.
    const next = await admitSeen(a, request({ tenantId, tokens: 10, now: T0 + 3, ...limits }));
    expect(next.ahead).toBe(false);
    expect(next.r).toMatchObject({ ok: false, reason: 'tokens' });
    await Promise.all([a.close(), b.close()]);
  });
});

// Random sequences: with one instance, every admission that goes ahead is one Redis then admits (none refused), and
// every answer and every budget state is the one a limiter that always waits gives.
const op = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('admit' as const),
      key: fc.constantFrom('k1', 'k1', 'k2', null),
      model: fc.constantFrom('m1', 'm1', 'm2'),
      dt: fc.oneof(
        { weight: 6, arbitrary: fc.integer({ min: 0, max: 300 }) },
        { weight: 2, arbitrary: fc.integer({ min: 0, max: 3_000 }) },
        { weight: 1, arbitrary: fc.constant(6 * 3_600_000) },
      ),
      tokens: fc.integer({ min: 0, max: 400 }),
      reserve: fc.bigInt({ min: 0n, max: 800n }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('settle' as const),
      pick: fc.nat(),
      actualPart: fc.integer({ min: 0, max: 150 }),
      actualTokens: fc.integer({ min: 0, max: 1_500 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('state' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reset' as const) }) },
);
const setupFor = (tenantId: string): SequenceSetup => ({
  tenants: [tenantId],
  limits: { tenant: { rpm: 20, tpm: 3_000 }, key: { rpm: 12 }, model: { tpm: 2_000 } },
  budgetsAt: (t) => [daySpec(t, 8_000n), monthSpec(t, 12_000n)],
  // The decision; the x-ratelimit figures of an admission that went ahead are an estimate from the reading.
  showAdmit: (r) => (r.ok ? 'ok' : `refused ${r.reason}`),
  awaitSettle: false,
  finalState: true,
});

describe('admission ahead of Redis, on random sequences', () => {
  it('changes no answer and no budget, and Redis refuses none of the admissions sent ahead', async () => {
    let wentAhead = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 120 }), fc.constantFrom(0.05, 0.2, 0.5), fc.integer({ min: 0, max: 3 }), async (ops, headroom, roomRequests) => {
        const clock = { now: T0 };
        const seeder = async () => 11n;
        const refused: AdmitResult[] = [];
        const waiting = createRedisLimiter({ redis: other, keyPrefix, seeder, onFailure: 'fail_closed', reservationTtlS: 30, now: () => clock.now });
        const ahead = createRedisLimiter({
          redis,
          keyPrefix,
          seeder,
          onFailure: 'fail_closed',
          reservationTtlS: 30,
          now: () => clock.now,
          ahead: { headroom, maxAgeMs: 1000, roomRequests },
          onRefusedAhead: (_req, r) => refused.push(r),
          // Count admissions answered before Redis had answered them.
          onAdmission: (path) => {
            if (path === 'ahead') wentAhead++;
          },
        });
        const a = await runSequence(waiting, ops, setupFor(uniqueId('ah')), clock);
        const b = await runSequence(ahead, ops, setupFor(uniqueId('ah')), clock);
        await Promise.all([waiting.close(), ahead.close()]);
        expect(refused).toEqual([]);
        expect(b).toEqual(a);
      }),
      { numRuns: 200 },
    );
    // The property is not vacuous: many admissions did go ahead (and some were refused: the runs reach the limits).
    console.info(`admissions ahead of Redis: ${wentAhead}`);
    expect(wentAhead).toBeGreaterThan(100);
  });
});
