// Two Tollgate builds side by side, one-connection latency in short alternating slices: on a shared machine whose
// speed drifts over minutes, runs of `npm run bench` minutes apart cannot resolve a change of ~50 µs; slices of 2 s,
// in alternating order, meet the same drift. Each build has its own Redis and database; both share the simulator and
// CPU 1 (so absolute figures are above the bench's). Reports median p50 / p99, the median per-slice difference, and
// Tollgate's CPU per request. Usage: build the other commit in a worktree (`git worktree add /tmp/wt-old SHA`, link
// node_modules, `node scripts/build.mjs` there), build this one, then `npx tsx bench/ab-probe.ts /tmp/wt-old [slices]`.
import { latency1 } from './load.js';
import { median } from './report.js';
import { cpuSeconds } from './procs.js';
import { startBuildPair } from './ab-pair.js';

const oldDir = process.argv[2];
if (!oldDir) throw new Error('usage: npx tsx bench/ab-probe.ts OLD_CHECKOUT_DIR [slices]');
const slices = Number(process.argv[3] ?? 16);
const pair = await startBuildPair(oldDir, { warmup: 5000 });
try {
  const res = { old: { p50: [] as number[], p99: [] as number[], cpu: [] as number[] }, new: { p50: [] as number[], p99: [] as number[], cpu: [] as number[] } };
  for (let i = 0; i < slices; i++) {
    const order = i % 2 === 0 ? (['old', 'new'] as const) : (['new', 'old'] as const);
    for (const w of order) {
      const t = pair[w].tg;
      const c0 = cpuSeconds(t.proc.serverPid);
      const r = await latency1(t.target, { durationMs: 2000, maxTokens: 32, warmup: 20 });
      res[w].cpu.push(((cpuSeconds(t.proc.serverPid) - c0) * 1e6) / r.sent);
      res[w].p50.push(r.p50Us);
      res[w].p99.push(r.p99Us);
    }
    process.stdout.write(`slice ${i}: old p50 ${res.old.p50.at(-1)!.toFixed(0)} us, new p50 ${res.new.p50.at(-1)!.toFixed(0)} us; p99 ${res.old.p99.at(-1)!.toFixed(0)} / ${res.new.p99.at(-1)!.toFixed(0)}\n`);
  }
  const diffs = res.old.p50.map((o, i) => o - res.new.p50[i]);
  console.log(`median p50 old ${median(res.old.p50).toFixed(0)} us, new ${median(res.new.p50).toFixed(0)} us; median per-slice difference old-new ${median(diffs).toFixed(0)} us; new faster in ${diffs.filter((d) => d > 0).length}/${diffs.length} slices`);
  console.log(`median p99 old ${median(res.old.p99).toFixed(0)} us, new ${median(res.new.p99).toFixed(0)} us; Tollgate CPU per request old ${median(res.old.cpu).toFixed(0)} us, new ${median(res.new.cpu).toFixed(0)} us`);
} finally {
  await pair.stop();
}
