// Random sequences of admissions, settlements and reads give the same answers from the Redis and in-process limiters.
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { AdmitRequest, Limiter } from '../../src/limits/interface.js';
import { createMemoryLimiter } from '../../src/limits/memory-limiter.js';
import { createRedisLimiter, limiterRedisOptions } from '../../src/limits/redis-limiter.js';
import { REDIS_URL, uniqueId } from '../support/services.js';
import { deleteKeys } from './support/redis.js';
import { daySpec, monthSpec, request, settlement, T0 } from './support/requests.js';

const keyPrefix = uniqueId('tgld');
const redis = new Redis(REDIS_URL, limiterRedisOptions);

afterAll(async () => {
  await deleteKeys(redis, keyPrefix);
  redis.disconnect();
});

const op = fc.oneof(
  fc.record({
    kind: fc.constant('admit' as const),
    tenant: fc.integer({ min: 0, max: 1 }),
    key: fc.constantFrom('k1', 'k2', null),
    model: fc.constantFrom('m1', 'm2'),
    dt: fc.oneof(fc.integer({ min: 0, max: 3_000 }), fc.integer({ min: 0, max: 40_000 }), fc.constant(6 * 3_600_000)),
    tokens: fc.integer({ min: 0, max: 600 }),
    reserve: fc.bigInt({ min: 0n, max: 80n }),
  }),
  fc.record({
    kind: fc.constant('settle' as const),
    pick: fc.nat(),
    actualPart: fc.integer({ min: 0, max: 100 }),
    actualTokens: fc.integer({ min: 0, max: 900 }),
  }),
  fc.record({ kind: fc.constant('state' as const), tenant: fc.integer({ min: 0, max: 1 }) }),
  fc.record({ kind: fc.constant('reset' as const), tenant: fc.integer({ min: 0, max: 1 }) }),
);

type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

/** Runs the same operations on one limiter and returns everything it answered, as plain JSON. */
async function run(limiter: Limiter, ops: Op[], tenants: string[], clock: { now: number }): Promise<string[]> {
  const out: string[] = [];
  const admitted: AdmitRequest[] = [];
  let n = 0;
  const budgetsAt = (t: number) => [daySpec(t, 200n), { ...monthSpec(t, 300n), mode: 'soft' as const }];
  const show = (v: unknown) => JSON.stringify(v, (_, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
  clock.now = T0;
  for (const o of ops) {
    if (o.kind === 'admit') {
      clock.now += o.dt;
      const req = request({
        tenantId: tenants[o.tenant],
        requestId: `r${n++}`,
        keyId: o.key,
        model: o.model,
        now: clock.now,
        tokens: o.tokens,
        reservePico: o.reserve,
        tenant: { rpm: 6, tpm: 1500 },
        key: { rpm: 3 },
        modelLimits: { tpm: 900 },
        budgets: budgetsAt(clock.now),
      });
      const r = await limiter.admit(req);
      if (r.ok) admitted.push(req);
      out.push(show(r));
    } else if (o.kind === 'settle') {
      if (admitted.length === 0) continue;
      const req = admitted[o.pick % admitted.length];
      const actual = (req.reservePico * BigInt(o.actualPart)) / 100n;
      await limiter.settle({ ...settlement(req, actual, o.actualTokens, clock.now), budgets: budgetsAt(clock.now) });
    } else if (o.kind === 'state') {
      out.push(show(await limiter.budgetState(tenants[o.tenant], budgetsAt(clock.now))));
    } else {
      await limiter.resetBudgets(tenants[o.tenant]);
    }
  }
  return out;
}

describe('Redis and in-process limiters agree', () => {
  it('on random sequences of operations', async () => {
    if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 40 }), async (ops) => {
        const clock = { now: T0 };
        const seeder = async (tenantId: string) => (tenantId.endsWith('_0') ? 17n : 0n);
        const tenants = [uniqueId('ld') + '_0', uniqueId('ld') + '_1'];
        const viaRedis = createRedisLimiter({ redis, keyPrefix, seeder, onFailure: 'fail_closed', reservationTtlS: 30, now: () => clock.now });
        const inMemory = createMemoryLimiter({ seeder, reservationTtlS: 30, now: () => clock.now });
        const a = await run(viaRedis, ops, tenants, clock);
        const b = await run(inMemory, ops, tenants, clock);
        await viaRedis.close();
        expect(a).toEqual(b);
      }),
      { numRuns: 60 },
    );
  });
});
