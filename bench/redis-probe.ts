// What the limiter costs Redis per request, measured on Redis itself: the scripts' commands (INFO commandstats: the
// EVALSHA time and every command run inside them) and the memory a settled request leaves behind for
// `reservation_ttl_s` (MEMORY USAGE of the tenant's keys). The bench tenant's shape: tenant RPM + TPM, key RPM, daily and
// monthly hard budgets; admissions waited for, settlements not (as the gateway does), one after the other.
// Usage: npx tsx bench/redis-probe.ts [--redis=redis://127.0.0.1:6379] [--requests=5000]
// It resets the server's command statistics (CONFIG RESETSTAT): point it at a Redis nothing else is measuring.
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { createLimiterRedis, createRedisLimiter } from '../src/limits/redis-limiter.js';
import { daySpec, monthSpec, request, settlement, T0 } from '../test/limits/support/requests.js';

const { values: args } = parseArgs({ options: { redis: { type: 'string' }, requests: { type: 'string' } } });
const url = args.redis ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const n = Number(args.requests ?? 5000);
const redis = createLimiterRedis(url);
const probe = new Redis(url);
await new Promise((r) => redis.once('ready', r));
const keyPrefix = `tgprobe${Date.now()}`;
// No `ahead` options: every admission waits, one EVALSHA answered before the next request.
const limiter = createRedisLimiter({ redis, keyPrefix, seeder: async () => 0n, onFailure: 'fail_closed', reservationTtlS: 900 });
const budgets = [daySpec(T0, 10n ** 18n), monthSpec(T0, 5n * 10n ** 18n)];
const tenantId = `t${Date.now()}`;
const next = (i: number) =>
  request({ tenantId, budgets, reservePico: 1_000_000n, tokens: 40, now: T0 + i, tenant: { rpm: 50_000_000, tpm: 2_000_000_000 }, key: { rpm: 50_000_000 } });

try {
  for (let i = 0; i < 200; i++) {
    const q = next(i);
    await limiter.admit(q);
    await limiter.settle(settlement(q, 700_000n, 50));
  }
  await probe.config('RESETSTAT');
  const settled: Array<Promise<void>> = [];
  for (let i = 0; i < n; i++) {
    const q = next(1000 + i);
    await limiter.admit(q);
    settled.push(limiter.settle(settlement(q, 700_000n, 50)));
  }
  await Promise.all(settled);
  const stats = new Map<string, { calls: number; usec: number }>();
  for (const m of (await probe.info('commandstats')).matchAll(/cmdstat_(\w+):calls=(\d+),usec=(\d+)/g)) stats.set(m[1], { calls: Number(m[2]), usec: Number(m[3]) });
  const evalsha = stats.get('evalsha') ?? { calls: 0, usec: 0 };
  const inner = [...stats].filter(([k]) => !['evalsha', 'config', 'info'].includes(k));
  const innerCalls = inner.reduce((a, [, v]) => a + v.calls, 0);
  const innerUsec = inner.reduce((a, [, v]) => a + v.usec, 0);
  let bytes = 0;
  for (const k of await probe.keys(`${keyPrefix}*`)) bytes += Number(await probe.memory('USAGE', k, 'SAMPLES', '0'));
  const out = [
    `${n} requests (admit + settle), ${url}:`,
    `  EVALSHA: ${(evalsha.usec / evalsha.calls).toFixed(1)} µs per call, ${(evalsha.calls / n).toFixed(2)} calls and ${(evalsha.usec / n).toFixed(1)} µs per request`,
    `  commands inside the scripts: ${(innerCalls / n).toFixed(1)} per request, ${(innerUsec / n).toFixed(1)} µs of their own per request`,
    `  ${inner.sort((a, b) => b[1].calls - a[1].calls).map(([k, v]) => `${k} ${(v.calls / n).toFixed(2)}`).join(', ')}`,
    `  Redis memory the tenant's keys hold: ${(bytes / (n + 200)).toFixed(0)} bytes per settled request (kept for reservation_ttl_s)`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
} finally {
  for (const k of await probe.keys(`${keyPrefix}*`)) await probe.del(k);
  await limiter.close();
  redis.disconnect();
  probe.disconnect();
}
