// One build's Tollgate under several environments side by side (ablations: LOG_LEVEL=warn turns the access log off,
// REDIS_URL= puts the limiter in-process), each started more than once, in alternating rounds at 32 connections.
// Two processes of the same build and the same environment can differ by several percent of CPU per request for as
// long as they run (what their JIT made of their warm-up), and the host's speed drifts between rounds: so each
// variant runs as several processes, and each round compares the variants with the first one, taken in the same round.
// Usage: npx tsx bench/ab-env.ts 'base;nolog:LOG_LEVEL=warn;inproc:REDIS_URL=' [instances=2] [rounds=5] [seconds=4]
// (build first: node scripts/build.mjs). A variant is `name` or `name:K=V,K=V`; the first is the reference.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { latency1, throughput } from './load.js';
import { median } from './report.js';
import { cpuSeconds, pinSelf } from './procs.js';
import { createBenchDatabase, startRedis } from './services.js';
import { type Running, simSettings, startSimulator, startTollgate } from './targets.js';

const spec = process.argv[2];
if (!spec) throw new Error("usage: npx tsx bench/ab-env.ts 'base;name:K=V,K=V;…' [instances] [rounds] [seconds]");
const instances = Number(process.argv[3] ?? 2);
const rounds = Number(process.argv[4] ?? 5);
const secs = Number(process.argv[5] ?? 4);

interface Variant {
  name: string;
  env: Record<string, string>;
}
const variants: Variant[] = spec.split(';').map((v) => {
  const [name, assignments = ''] = v.split(/:(.*)/s);
  const env = Object.fromEntries(assignments.split(',').filter(Boolean).map((a) => a.split(/=(.*)/s).slice(0, 2) as [string, string]));
  return { name, env };
});

interface Instance {
  variant: Variant;
  tg: Running;
  redisPid: number;
  cpu: number[];
  redis: number[];
  rps: number[];
}

const logDir = mkdtempSync(join(tmpdir(), 'tollgate-ab-env-'));
const ctx = { logDir, cpus: pinSelf('0') ? '1' : undefined };
const stops: Array<() => Promise<unknown>> = [];
try {
  const sim = await startSimulator(ctx, 32);
  stops.push(() => sim.proc.stop());
  await simSettings(sim.base, { latencyMs: 0 });
  const all: Instance[] = [];
  // Interleaved (a b c a b c): no variant's processes all start first or last.
  for (let i = 0; i < instances; i++) {
    for (const variant of variants) {
      const dir = mkdtempSync(join(logDir, `${variant.name.replace(/\W/g, '_')}-`));
      const redis = await startRedis(dir, ctx.cpus);
      const db = await createBenchDatabase();
      stops.push(() => redis.server.stop(), () => db.drop());
      const tg = await startTollgate({ ...ctx, logDir: dir }, { simOrigin: sim.base, databaseUrl: db.url, redisUrl: redis.url, dataDir: join(dir, 'data'), extraEnv: variant.env });
      stops.push(() => tg.proc.stop());
      all.push({ variant, tg, redisPid: redis.server.serverPid, cpu: [], redis: [], rps: [] });
    }
  }
  for (const x of all) {
    await latency1(x.tg.target, { durationMs: 100, maxTokens: 32, warmup: 3000 });
    await throughput(x.tg.target, { connections: 32, durationS: 12, maxTokens: 32 });
  }
  for (let round = 0; round < rounds; round++) {
    for (const x of round % 2 === 0 ? all : [...all].reverse()) {
      const c0 = cpuSeconds(x.tg.proc.serverPid);
      const r0 = cpuSeconds(x.redisPid);
      const r = await throughput(x.tg.target, { connections: 32, durationS: secs, maxTokens: 32 });
      if (r.errors) console.log(`errors: ${x.variant.name} ${r.errors}`);
      x.cpu.push(((cpuSeconds(x.tg.proc.serverPid) - c0) * 1e3) / r.ok);
      x.redis.push(((cpuSeconds(x.redisPid) - r0) * 1e3) / r.ok);
      x.rps.push(r.rps);
    }
    console.log(`round ${round + 1}: ${all.map((x) => `${x.variant.name} ${x.cpu.at(-1)!.toFixed(3)}`).join('  ')}`);
  }
  // Per round: a variant's mean CPU per request over its processes ÷ the reference's in the same round.
  const roundMean = (v: Variant, round: number) => {
    const xs = all.filter((x) => x.variant === v).map((x) => x.cpu[round]);
    return xs.reduce((a, b) => a + b, 0) / xs.length;
  };
  for (const v of variants) {
    const mine = all.filter((x) => x.variant === v);
    const ratios = Array.from({ length: rounds }, (_, i) => roundMean(v, i) / roundMean(variants[0], i));
    const perProcess = mine.map((x) => median(x.cpu).toFixed(3)).join(' / ');
    const rps = median(mine.flatMap((x) => x.rps));
    const redis = median(mine.flatMap((x) => x.redis));
    console.log(
      `${v.name.padEnd(12)} CPU/req per process ${perProcess} ms; ÷ ${variants[0].name} per round: median ${median(ratios).toFixed(3)}, ` +
        `lower in ${ratios.filter((r) => r < 1).length}/${rounds}; req/s ${rps.toFixed(0)}; Redis CPU/req ${redis.toFixed(3)} ms`,
    );
  }
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => {});
  rmSync(logDir, { recursive: true, force: true });
}
