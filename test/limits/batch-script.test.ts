// A tenant's admissions and settlements sent together in one call of the batch script (src/limits/lua.ts batchLua)
// leave Redis exactly as the same operations sent one call each: every counter, token bucket, reservation record and
// tombstone, on random sequences that reach the limits, let reservations expire and settle some requests twice.
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import type { AdmitRequest, AdmitResult } from '../../src/limits/interface.js';
import { batchLua } from '../../src/limits/lua.js';
import { createRedisCoreLimiter, tenantKeys } from '../../src/limits/redis-core.js';
import { limiterRedisOptions } from '../../src/limits/redis-limiter.js';
import { REDIS_URL, uniqueId } from '../support/services.js';
import { deleteKeys } from './support/redis.js';
import { daySpec, monthSpec, request, settlement, T0 } from './support/requests.js';

const redis = new Redis(REDIS_URL, limiterRedisOptions);
const other = new Redis(REDIS_URL, limiterRedisOptions);
const prefixes: string[] = [];

afterAll(async () => {
  for (const p of prefixes) await deleteKeys(redis, p);
  redis.disconnect();
  other.disconnect();
});

/**
 * Records every admission's reply from the batch script on this client, per tenant in order (the limiter defines the
 * command on the client; its first key names the tenant).
 */
function recordReplies(client: Redis, prefix: string): Record<string, unknown[]> {
  const replies: Record<string, unknown[]> = {};
  const host = client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const batch = host.tgLimitBatch.bind(client);
  host.tgLimitBatch = async (...args: unknown[]) => {
    const r = await batch(...args);
    const tenant = String(args[1]).split(prefix).join('P');
    if (Array.isArray(r)) (replies[tenant] ??= []).push(...r);
    return r;
  };
  return replies;
}

/** Every key under a prefix with its value (hashes, sets and sorted sets in a stable order), the prefix taken out. */
async function dump(prefix: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const strip = (s: string) => s.split(prefix).join('P');
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      let value: unknown;
      if (type === 'string') value = await redis.get(key);
      else if (type === 'hash') value = Object.entries(await redis.hgetall(key)).map(([f, v]) => `${f}=${strip(v)}`).sort();
      else if (type === 'zset') value = await redis.zrange(key, '0', '-1', 'WITHSCORES');
      else if (type === 'set') value = (await redis.smembers(key)).map(strip).sort();
      else value = type;
      out[strip(key)] = value;
    }
  } while (cursor !== '0');
  return out;
}

const op = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('admit' as const),
      tenant: fc.integer({ min: 0, max: 1 }),
      key: fc.constantFrom('k1', 'k1', 'k1', 'k2', null),
      model: fc.constantFrom('m1', 'm1', 'm1', 'm2'),
      dt: fc.oneof(
        { weight: 8, arbitrary: fc.integer({ min: 0, max: 400 }) },
        { weight: 2, arbitrary: fc.integer({ min: 0, max: 40_000 }) },
        { weight: 1, arbitrary: fc.constant(6 * 3_600_000) },
      ),
      tokens: fc.integer({ min: 0, max: 400 }),
      // Cache hits reserve nothing.
      reserve: fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: 900n }), fc.bigInt({ min: 1n, max: 900n })),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('settle' as const),
      pick: fc.nat(),
      actualPart: fc.integer({ min: 0, max: 150 }),
      actualTokens: fc.integer({ min: 0, max: 1_500 }),
      later: fc.integer({ min: 0, max: 2_000 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('flush' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('state' as const), tenant: fc.integer({ min: 0, max: 1 }) }) },
);

// Scaled per run: tight runs reach every limit (refusals, admissions that must wait), loose ones batch most admissions.
const limitsOf = (x: number) => ({ tenant: { rpm: 40 * x, tpm: 4_000 * x }, key: { rpm: 25 * x }, modelLimits: { tpm: 3_000 * x } });
const budgetsAt = (t: number, x: number) => [daySpec(t, 20_000n * BigInt(x)), monthSpec(t, 30_000n * BigInt(x))];

describe('the batch script', () => {
  it('leaves Redis as one call per operation would, on random sequences', async () => {
    for (const c of [redis, other]) if (c.status !== 'ready') await new Promise((resolve) => c.once('ready', resolve));
    let batched = 0;
    let quiet = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 20, maxLength: 120 }), fc.constantFrom(1, 1, 20), async (ops, x) => {
        const limits = limitsOf(x);
        const [pa, pb] = [uniqueId('tgba'), uniqueId('tgbb')];
        prefixes.push(pa, pb);
        const seeder = async (tenantId: string) => (tenantId.endsWith('_0') ? 13n : 0n);
        // A: admissions far enough from the limits go ahead and wait in their tenant's batch (no timer within a run);
        // B: every admission and settlement is a call of its own, answered before the next is sent.
        const a = createRedisCoreLimiter({
          redis,
          keyPrefix: pa,
          seeder,
          reservationTtlS: 30,
          batchWindowMs: 3_600_000,
          ahead: { headroom: 0.01, maxAgeMs: 3_600_000, roomRequests: 0 },
        });
        const b = createRedisCoreLimiter({ redis: other, keyPrefix: pb, seeder, reservationTtlS: 30 });
        // What Redis answered each admission (the x-ratelimit state and the spend it reports, refusals, seed requests).
        const [repliesA, repliesB] = [recordReplies(redis, pa), recordReplies(other, pb)];
        const tenants = [uniqueId('tb') + '_0', uniqueId('tb') + '_1'];
        const refused: AdmitResult[] = [];
        const failed: unknown[] = [];
        const pending: Array<Promise<unknown>> = [];
        const admitted: AdmitRequest[] = [];
        const decisions: Array<[boolean, boolean]> = [];
        let now = T0;
        for (const o of ops) {
          if (o.kind === 'admit') {
            now += o.dt;
            const req = request({ tenantId: tenants[o.tenant], keyId: o.key, model: o.model, now, tokens: o.tokens, reservePico: o.reserve, ...limits, budgets: budgetsAt(now, x) });
            const ahead = a.admitAhead(req, (err) => failed.push(err), (_r, r) => refused.push(r));
            if (ahead) batched++;
            const ra = ahead ?? (await a.admit(req));
            const rb = await b.admit(req);
            decisions.push([ra.ok, rb.ok]);
            admitted.push(req);
          } else if (o.kind === 'settle') {
            if (admitted.length === 0) continue;
            const req = admitted[o.pick % admitted.length];
            const s = settlement(req, (req.reservePico * BigInt(o.actualPart)) / 100n, o.actualTokens, req.now + o.later);
            pending.push(a.settle(s));
            await b.settle(s);
          } else if (o.kind === 'flush') {
            a.flush();
          } else {
            const tenantId = tenants[o.tenant];
            const [sa, sb] = await Promise.all([a.budgetState(tenantId, budgetsAt(now, x)), b.budgetState(tenantId, budgetsAt(now, x))]);
            expect(sa).toEqual(sb);
          }
        }
        await a.close();
        await Promise.all(pending);
        for (const c of [redis, other]) delete (c as unknown as Record<string, unknown>).tgLimitBatch; // back to the prototype's
        expect(failed).toEqual([]);
        expect(refused).toEqual([]);
        expect(decisions.filter(([x, y]) => x !== y)).toEqual([]);
        // An admission that went ahead is answered {'k'} when admitted (quiet), unless it was its group's last in the
        // call; every other answer is the one-call-each answer.
        expect(Object.keys(repliesA).sort()).toEqual(Object.keys(repliesB).sort());
        for (const t of Object.keys(repliesB)) {
          const [ra, rb] = [repliesA[t], repliesB[t]];
          expect(ra.length).toBe(rb.length);
          const seen = ra.map((r, i) => {
            if (!(Array.isArray(r) && r.length === 1 && r[0] === 'k')) return r;
            quiet++;
            return Array.isArray(rb[i]) && rb[i][0] === 'ok' ? rb[i] : ['k, where one call each answered', rb[i]];
          });
          expect(seen).toEqual(rb);
        }
        expect(await dump(pa)).toEqual(await dump(pb));
      }),
      { numRuns: 100 },
    );
    // Not vacuous: many admissions waited in a batch with others.
    console.info(`admissions batched: ${batched}, answered quietly: ${quiet}`);
    expect(batched).toBeGreaterThan(500);
    expect(quiet).toBeGreaterThan(50);
  });

  it('sees a counter that an admission seeded earlier in the same call', async () => {
    // The script remembers which counters exist for the rest of a call: a settlement that found the day counter missing,
    // then an admission that seeds it, then a settlement charging it, all in one call, as three calls would do.
    if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
    const prefix = uniqueId('tgbs');
    prefixes.push(prefix);
    const k = tenantKeys(prefix, uniqueId('t'));
    const day = k.budget(daySpec(T0, 1_000n));
    const expireAt = T0 + 2 * 86_400_000;
    const keys = [k.res, k.resx, k.bk, day];
    const group = (seed: string) => [0, 1, 4, 'h', expireAt, seed, ''];
    const late = (rid: string, actual: string) => ['s', T0, rid, actual, 0, 1, 4];
    const ops = [...late('r1', '7'), 'a', 2, T0, 'r2', 0, '0', '1000', ...late('r3', '5')];
    const reply = await redis.eval(batchLua, keys.length, ...keys, 30_000, 2, ...group(''), ...group('100'), 3, ...ops);
    expect(reply).toEqual([['ok', '100']]);
    // r1 found no counter to charge; r3 is charged on the counter r2's admission seeded.
    expect(await redis.get(day)).toBe('105');
  });
});
