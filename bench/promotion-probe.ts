// Bytes promoted to V8's old generation per request, and the one-connection latency they cost: what sets the p99 and
// p99.9 at one connection is the young-generation collections, whose pauses grow with what survives them
// (docs/performance.md, 2026-12-02). Same processes and pinning as `npm run bench`; Tollgate runs under
// --trace-gc-nvp and the `promoted=` bytes of its scavenges are summed over the run (warm-up included) ÷ requests.
// Usage: npx tsx bench/promotion-probe.ts [--kind=chat|explain|refused|notfound|healthz] [--node-args="--flag …"] [--env=K=V,…]
// [--seconds=8] [--heap-profile=FILE]; KEEP_LOG=1 keeps the log directory and prints the last two scavenges' --trace-gc-nvp
// lines. --heap-profile writes a sampling heap profile (open it in Chrome DevTools, Memory tab) of what the run allocated
// that outlived young-generation collections: the promoted objects and their allocation stacks (V8 keeps the samples of
// objects a major GC collected, drops those a scavenge collected).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from 'undici';
import { chatBody } from './load.js';
import { pinSelf } from './procs.js';
import { createBenchDatabase, startRedis } from './services.js';
import { simSettings, startSimulator, startTollgate } from './targets.js';
import { buildGateway } from '../test/support/process.js';

const { values: args } = parseArgs({
  options: {
    kind: { type: 'string', default: 'chat' },
    'node-args': { type: 'string', default: '' },
    env: { type: 'string', default: '' },
    seconds: { type: 'string', default: '8' },
    'heap-profile': { type: 'string' },
  },
});
const WARMUP = 5000;

buildGateway();
const logDir = mkdtempSync(join(tmpdir(), 'tollgate-promo-'));
const ctx = { logDir, cpus: pinSelf('0') ? '1' : undefined };
const sim = await startSimulator(ctx, 68);
const redis = await startRedis(logDir, ctx.cpus);
const db = await createBenchDatabase();
const nodeArgs = ['--trace-gc-nvp', ...args['node-args'].split(' ').filter(Boolean)];
// --heap-profile: bench/heap-sampler.mjs preloaded, with no major GC during the run; read out on SIGWINCH below.
const heapProfile = args['heap-profile'];
if (heapProfile) nodeArgs.push('--import', resolve('bench/heap-sampler.mjs'), '--initial-old-space-size=3000', '--no-memory-reducer');
// --env=K=V,K=V: ablations (e.g. LOG_LEVEL=warn, or REDIS_URL= for the in-process limiter).
const extraEnv = Object.fromEntries(args.env.split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
if (heapProfile) extraEnv.BENCH_HEAP_PROFILE = resolve(heapProfile);
const tg = await startTollgate(ctx, { simOrigin: sim.base, databaseUrl: db.url, redisUrl: redis.url, dataDir: join(logDir, 'data'), nodeArgs, extraEnv });
let requests = 0;
try {
  await simSettings(sim.base, { latencyMs: 0, ttftMs: 0, chunkDelayMs: 0 });
  const t = tg.target;
  const kind = args.kind;
  const request = {
    path: kind === 'healthz' ? '/healthz' : kind === 'notfound' ? '/v1/nothing' : kind === 'explain' ? '/v1/route/explain' : t.path,
    method: kind === 'healthz' || kind === 'notfound' ? ('GET' as const) : ('POST' as const),
    headers: { 'content-type': 'application/json', ...t.headers },
    body: kind === 'refused' ? JSON.stringify({ model: t.model, messages: 'not a list' }) : kind === 'chat' || kind === 'explain' ? chatBody(t, false, 32) : undefined,
  };
  const expected = kind === 'refused' ? 400 : kind === 'notfound' ? 404 : 200;
  const client = new Client(t.origin, { keepAliveTimeout: 60_000, pipelining: 1 });
  const samples: number[] = [];
  let unexpected = 0;
  const one = async (measure: boolean) => {
    const t0 = process.hrtime.bigint();
    const res = await client.request(request);
    await res.body.dump();
    requests++;
    if (res.statusCode !== expected) unexpected++;
    if (measure) samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  };
  for (let i = 0; i < WARMUP; i++) await one(false);
  const end = performance.now() + Number(args.seconds) * 1000;
  while (performance.now() < end) await one(true);
  await client.close();
  if (heapProfile) {
    process.kill(tg.proc.serverPid, 'SIGWINCH');
    const deadline = Date.now() + 30_000;
    while (!readFileSync(join(logDir, 'tollgate.log'), 'utf8').includes('heap profile written') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    process.stdout.write(`heap profile: ${heapProfile}\n`);
  }
  samples.sort((a, b) => a - b);
  const p = (q: number) => samples[Math.floor((samples.length - 1) * q)].toFixed(3);
  process.stdout.write(`${kind}: ${samples.length} requests measured (after ${WARMUP} warm-up), ${unexpected} answers other than ${expected}\n`);
  process.stdout.write(`latency ms: p50 ${p(0.5)}  p90 ${p(0.9)}  p99 ${p(0.99)}  p99.9 ${p(0.999)}  max ${p(1)}\n`);
} finally {
  await Promise.allSettled([tg.proc.stop(), sim.proc.stop(), redis.server.stop(), db.drop()]);
}
const log = readFileSync(join(logDir, 'tollgate.log'), 'utf8');
const scavenges = log.split('\n').filter((l) => / gc=s /.test(l));
const promoted = scavenges.reduce((sum, l) => sum + Number(/ promoted=(\d+)/.exec(l)?.[1] ?? 0), 0);
const pauses = scavenges.map((l) => Number(/ pause=([\d.]+)/.exec(l)?.[1] ?? Number.NaN)).sort((a, b) => a - b);
process.stdout.write(
  `scavenges: ${scavenges.length}, pause p50 ${pauses[pauses.length >> 1]} ms, max ${pauses[pauses.length - 1]} ms; ` +
    `promoted ${(promoted / 1024 / 1024).toFixed(1)} MB over ${requests} requests = ${((promoted / requests) / 1024).toFixed(1)} KB per request\n`,
);
// LO-space objects (a large string, say) skip the young generation and never show as promoted, but they fill the old
// one all the same: the heap's growth between mark-compacts (before one minus after the previous) counts both.
const marks = log.split('\n').filter((l) => / gc=mc /.test(l));
const sizes = (l: string, k: string) => Number(new RegExp(` ${k}=(\\d+)`).exec(l)?.[1] ?? 0);
let grown = 0;
for (let i = 1; i < marks.length; i++) grown += Math.max(0, sizes(marks[i], 'total_size_before') - sizes(marks[i - 1], 'total_size_after'));
process.stdout.write(
  `mark-compacts: ${marks.length}, one per ${Math.round(requests / Math.max(1, marks.length))} requests; ` +
    `heap grown between them ${(grown / 1024 / 1024).toFixed(1)} MB = ${((grown / requests) / 1024).toFixed(1)} KB per request\n`,
);
if (process.env.KEEP_LOG) process.stdout.write(`${scavenges.slice(-2).join('\n')}\nlogs in ${logDir}\n`);
else rmSync(logDir, { recursive: true, force: true });
