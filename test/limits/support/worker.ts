// A separate gateway-like process for the cross-instance tests: its own ioredis connection and Redis limiter.
// Reads a JSON job from argv, prints "ready", waits for "go" on stdin, fires all admissions at once, prints the outcome.
import { Redis } from 'ioredis';
import { createRedisLimiter, limiterRedisOptions } from '../../../src/limits/redis-limiter.js';
import { runBurst, type BurstJob } from './burst.js';

const job = JSON.parse(process.argv[2] ?? '{}') as BurstJob & { redisUrl: string; keyPrefix: string };
const redis = new Redis(job.redisUrl, limiterRedisOptions);
await new Promise((resolve) => redis.once('ready', resolve));
const limiter = createRedisLimiter({ redis, keyPrefix: job.keyPrefix, seeder: async () => 0n, onFailure: 'fail_closed', reservationTtlS: 900 });
process.stdout.write('ready\n');
await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
const outcome = await runBurst(limiter, job);
process.stdout.write(`${JSON.stringify(outcome)}\n`);
await limiter.close();
redis.disconnect();
process.stdin.destroy();
