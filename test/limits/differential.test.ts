// Random sequences of admissions, settlements and reads give the same answers from the Redis and in-process limiters.
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryLimiter } from '../../src/limits/memory-limiter.js';
import { createRedisLimiter, limiterRedisOptions } from '../../src/limits/redis-limiter.js';
import { REDIS_URL, uniqueId } from '../support/services.js';
import { deleteKeys } from './support/redis.js';
import { daySpec, monthSpec, T0 } from './support/requests.js';
import { runSequence, type SequenceSetup, showJson } from './support/sequences.js';

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

const setupFor = (tenants: string[], awaitSettle = true): SequenceSetup => ({
  tenants,
  limits: { tenant: { rpm: 6, tpm: 1500 }, key: { rpm: 3 }, model: { tpm: 900 } },
  budgetsAt: (t) => [daySpec(t, 200n), { ...monthSpec(t, 300n), mode: 'soft' as const }],
  showAdmit: showJson,
  awaitSettle,
  finalState: !awaitSettle,
});

describe('Redis and in-process limiters agree', () => {
  // Settlements awaited: each goes to Redis on its own (the settle script). Not awaited, as the gateway does: each rides
  // inside its tenant's next admission (its budget and token-bucket corrections applied in that script), or leaves on
  // its own when a state read or the timer comes first.
  it.each([
    ['settlements sent on their own', true, 60],
    ['settlements riding on the next admission', false, 300],
  ])('on random sequences of operations: %s', async (_name, awaitSettle, numRuns) => {
    if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 5, maxLength: 40 }), async (ops) => {
        const clock = { now: T0 };
        const seeder = async (tenantId: string) => (tenantId.endsWith('_0') ? 17n : 0n);
        const tenants = [uniqueId('ld') + '_0', uniqueId('ld') + '_1'];
        const viaRedis = createRedisLimiter({ redis, keyPrefix, seeder, onFailure: 'fail_closed', reservationTtlS: 30, now: () => clock.now });
        const inMemory = createMemoryLimiter({ seeder, reservationTtlS: 30, now: () => clock.now });
        const a = await runSequence(viaRedis, ops, setupFor(tenants, awaitSettle), clock);
        const b = await runSequence(inMemory, ops, setupFor(tenants, awaitSettle), clock);
        await viaRedis.close();
        expect(a).toEqual(b);
      }),
      { numRuns },
    );
  });
});
