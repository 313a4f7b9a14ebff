// Two Tollgate builds side by side at 32 connections, in alternating rounds: throughput, and the CPU per request of each
// build and of its own Redis (/proc), then one-connection p50/p99. On a shared host whose speed drifts over minutes, a
// change of a few percent shows only this way (docs/performance.md). Each build has its own Redis and database; both
// share the simulator and CPU 1. Usage: build the other commit in a worktree (`git worktree add /tmp/wt-old SHA`, link
// node_modules, `node scripts/build.mjs` there), build this one, then
// `npx tsx bench/ab-throughput.ts /tmp/wt-old [rounds=7] [seconds=6]`. AB_NEW_NODE_ARGS=--flag,… runs this build's
// Tollgate with those node options (a V8 flag against none: give this checkout as the old one too).
// One process per side: two processes of one build can differ by 14-41% over a whole run (bench/ab-env.ts runs
// several per variant), so an effect of a few percent needs a second pair, the sides' processes started afresh.
import { latency1, throughput } from './load.js';
import { median } from './report.js';
import { cpuSeconds } from './procs.js';
import { startBuildPair } from './ab-pair.js';

const oldDir = process.argv[2];
if (!oldDir) throw new Error('usage: npx tsx bench/ab-throughput.ts OLD_CHECKOUT_DIR [rounds] [seconds]');
const rounds = Number(process.argv[3] ?? 7);
const secs = Number(process.argv[4] ?? 6);
const newNodeArgs = process.env.AB_NEW_NODE_ARGS?.split(',').filter(Boolean);
const pair = await startBuildPair(oldDir, { warmup: 3000, newNodeArgs });
try {
  const res: Record<string, { rps: number[]; cpu: number[]; redis: number[]; p50: number[]; p99: number[] }> = { old: { rps: [], cpu: [], redis: [], p50: [], p99: [] }, new: { rps: [], cpu: [], redis: [], p50: [], p99: [] } };
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 === 0 ? (['old', 'new'] as const) : (['new', 'old'] as const);
    for (const w of order) {
      const { tg: t, redisPid } = pair[w];
      const c0 = cpuSeconds(t.proc.serverPid);
      const q0 = cpuSeconds(redisPid);
      const r = await throughput(t.target, { connections: 32, durationS: secs, maxTokens: 32 });
      res[w].cpu.push(((cpuSeconds(t.proc.serverPid) - c0) * 1e3) / r.ok);
      res[w].redis.push(((cpuSeconds(redisPid) - q0) * 1e3) / r.ok);
      res[w].rps.push(r.rps);
      const l = await latency1(t.target, { durationMs: 2000, maxTokens: 32, warmup: 20 });
      res[w].p50.push(l.p50Us);
      res[w].p99.push(l.p99Us);
      if (r.errors) console.log('errors', w, r.errors);
    }
    console.log(`round ${i}: old ${res.old.rps.at(-1)!.toFixed(0)} req/s cpu ${res.old.cpu.at(-1)!.toFixed(3)} redis ${res.old.redis.at(-1)!.toFixed(3)} p50 ${res.old.p50.at(-1)!.toFixed(0)}; new ${res.new.rps.at(-1)!.toFixed(0)} req/s cpu ${res.new.cpu.at(-1)!.toFixed(3)} redis ${res.new.redis.at(-1)!.toFixed(3)} p50 ${res.new.p50.at(-1)!.toFixed(0)}`);
  }
  const lower = res.new.cpu.filter((c, i) => c < res.old.cpu[i]).length;
  for (const w of ['old', 'new']) console.log(`${w}: req/s ${median(res[w].rps).toFixed(0)}, Tollgate CPU/req ${median(res[w].cpu).toFixed(3)} ms, Redis CPU/req ${median(res[w].redis).toFixed(3)} ms, 1-conn p50 ${median(res[w].p50).toFixed(0)} us p99 ${median(res[w].p99).toFixed(0)} us`);
  console.log(`new Tollgate CPU lower in ${lower}/${rounds} rounds`);
} finally {
  await pair.stop();
}
