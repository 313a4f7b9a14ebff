// Where the one-connection tail goes: Tollgate under --cpu-prof (250 µs), one connection for N s after a warm-up, and
// the profile's samples that fall inside the slow requests (> 2 ms) against those inside fast ones (< 0.8 ms). Both
// clocks are CLOCK_MONOTONIC (the client's hrtime, V8's profile timestamps), so the windows line up. "(idle)" inside a
// slow request is time the core spent on something else (the simulator, Redis, other processes); see
// docs/performance.md (2026-12-07, fourth session). Usage: `node scripts/build.mjs && npx tsx bench/tail-probe.ts [seconds=8]`.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'undici';
import { chatBody, latency1 } from './load.js';
import { pinSelf } from './procs.js';
import { createBenchDatabase, startRedis } from './services.js';
import { simSettings, startSimulator, startTollgate } from './targets.js';

const secs = Number(process.argv[2] ?? 8);
const logDir = mkdtempSync(join(tmpdir(), 'tollgate-sp-'));
const profDir = join(logDir, 'prof');
const ctx = { logDir, cpus: pinSelf('0') ? '1' : undefined };
const sim = await startSimulator(ctx, 32);
await simSettings(sim.base, { latencyMs: 0 });
const r = await startRedis(logDir, ctx.cpus);
const d = await createBenchDatabase();
const tg = await startTollgate(ctx, { simOrigin: sim.base, databaseUrl: d.url, redisUrl: r.url, dataDir: join(logDir, 'data'), cpuProfDir: profDir, nodeArgs: ['--cpu-prof-interval', '250'] });
const win: Array<[number, number]> = [];
try {
  await latency1(tg.target, { durationMs: 100, maxTokens: 32, warmup: 4000 });
  const t = tg.target;
  const client = new Client(t.origin, { keepAliveTimeout: 60_000, pipelining: 1 });
  const body = chatBody(t, false, 32);
  const headers = { 'content-type': 'application/json', ...t.headers };
  const end = performance.now() + secs * 1000;
  while (performance.now() < end) {
    const t0 = process.hrtime.bigint();
    const res = await client.request({ path: t.path, method: 'POST', headers, body });
    await res.body.text();
    win.push([Number(t0 / 1000n), Number(process.hrtime.bigint() / 1000n)]);
  }
  await client.close();
} finally {
  await tg.proc.stop();
  await Promise.allSettled([sim.proc.stop(), r.server.stop(), d.drop()]);
}
const f = readdirSync(profDir).find((x) => x.endsWith('.cpuprofile'))!;
interface ProfNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
const p = JSON.parse(readFileSync(join(profDir, f), 'utf8')) as { nodes: ProfNode[]; samples: number[]; timeDeltas: number[]; startTime: number };
rmSync(logDir, { recursive: true, force: true });
const byId = new Map<number, ProfNode>();
for (const n of p.nodes) byId.set(n.id, n);
const parent = new Map<number, number>();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const times: number[] = [];
let tt = p.startTime;
for (const dlt of p.timeDeltas) times.push((tt += dlt));
const label = (id: number) => {
  // the innermost frame from build/ or a special node, else the leaf
  let cur: number | undefined = id;
  const leaf = byId.get(id)!.callFrame;
  if (['(idle)', '(garbage collector)', '(program)'].includes(leaf.functionName)) return leaf.functionName;
  while (cur !== undefined) {
    const cf = byId.get(cur)!.callFrame;
    if (cf.url.includes('/build/')) return `${cf.functionName || '(anon)'} ${cf.url.replace(/.*\/build\//, '')}:${cf.lineNumber}`;
    cur = parent.get(cur);
  }
  return `${leaf.functionName || '(anon)'} ${leaf.url.replace(/.*\/node_modules\//, '')}`;
};
const lat = win.map(([a, b]) => b - a);
const sorted = [...lat].sort((a, b) => a - b);
const thr = 2000;
const slowIdx = lat.map((l, i) => [l, i]).filter(([l]) => l > thr).map(([, i]) => i);
console.log(`requests ${win.length}, p50 ${sorted[Math.floor(sorted.length / 2)]} p99 ${sorted[Math.floor(sorted.length * 0.99)]} us; slow > ${thr} us: ${slowIdx.length}; profile ${times[0]}..${times.at(-1)} requests ${win[0][0]}..${win.at(-1)![1]}`);
// aggregate sample time by label within slow windows vs fast windows
const agg = (idx: number[]) => {
  const m = new Map<string, number>();
  let j = 0;
  let total = 0;
  for (const i of idx) {
    const [a, b] = win[i];
    while (j < times.length && times[j] < a) j++;
    let k = j;
    while (k < times.length && times[k] <= b) {
      const dt = (times[k + 1] ?? times[k]) - times[k];
      const lb = label(p.samples[k]);
      m.set(lb, (m.get(lb) ?? 0) + dt);
      total += dt;
      k++;
    }
  }
  return { m, total };
};
const slow = agg(slowIdx);
const fastIdx = lat.map((l, i) => [l, i]).filter(([l]) => l < 800).map(([, i]) => i).slice(0, slowIdx.length * 5);
const fast = agg(fastIdx);
console.log(`slow windows: ${(slow.total / slowIdx.length).toFixed(0)} us sampled per request`);
for (const [k, v] of [...slow.m].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`${(v / slowIdx.length).toFixed(0).padStart(6)} us/req  ${k}`);
console.log(`fast windows: ${(fast.total / fastIdx.length).toFixed(0)} us sampled per request`);
for (const [k, v] of [...fast.m].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`${(v / fastIdx.length).toFixed(0).padStart(6)} us/req  ${k}`);
