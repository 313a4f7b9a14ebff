// Two Tollgate builds side by side on the cold paths the latency targets meet: a stream's time to first token (12
// streams one at a time, 24 four at a time, the bench's 20 ms pacing) and the one-connection p50 at 60 ms upstream,
// each minus direct's in the same round, in alternating rounds. Each build has its own Redis and database; all share
// the simulator and CPU 1 (so figures sit above the bench's). Usage: build the other commit in a worktree
// (`git worktree add /tmp/wt-old SHA`, link node_modules, `node scripts/build.mjs` there), build this one, then
// `npx tsx bench/ab-stream.ts /tmp/wt-old [rounds=4]`.
import { latency1, streaming } from './load.js';
import { startBuildPair } from './ab-pair.js';
import { simSettings } from './targets.js';

const oldDir = process.argv[2];
if (!oldDir) throw new Error('usage: npx tsx bench/ab-stream.ts OLD_CHECKOUT [rounds]');
const rounds = Number(process.argv[3] ?? 4);
// Both builds warmed up as in ab-pair.ts (15 s of 32-connection load each), then 300 unpaced streams each below.
const pair = await startBuildPair(oldDir, { warmup: 300, simTokens: 68 });
const { sim } = pair;
const [oldTg, newTg] = [pair.old.tg, pair.new.tg];
const res: Record<string, number[]> = {};
const add = (k: string, v: number) => (res[k] ??= []).push(v);
const med = (x: number[]) => [...x].sort((a, b) => a - b)[x.length >> 1];
try {
  await simSettings(sim.base, { latencyMs: 0, ttftMs: 0, chunkDelayMs: 0 });
  for (const t of [oldTg, newTg, sim]) await streaming(t.target, { streams: 300, concurrency: 4, maxTokens: 68 });
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 ? [newTg, oldTg, sim] : [oldTg, newTg, sim];
    const name = (t: unknown) => (t === oldTg ? 'old' : t === newTg ? 'new' : 'direct');
    await simSettings(sim.base, { latencyMs: 0, ttftMs: 20, chunkDelayMs: 20 });
    for (const c of [1, 4]) for (const t of order) {
      const s = await streaming(t.target, { streams: c === 1 ? 12 : 24, concurrency: c, maxTokens: 68 });
      add(`ttft c${c} ${name(t)}`, s.ttftP50Us / 1000);
    }
    await simSettings(sim.base, { latencyMs: 60, ttftMs: 0, chunkDelayMs: 0 });
    for (const t of order) {
      const l = await latency1(t.target, { durationMs: 3000, maxTokens: 32 });
      add(`lat60 p50 ${name(t)}`, l.p50Us / 1000);
    }
    process.stdout.write(`round ${r + 1}: ${Object.entries(res).map(([k, v]) => `${k} ${v.at(-1)!.toFixed(3)}`).join(', ')}\n`);
  }
  for (const k of Object.keys(res)) console.log(`${k.padEnd(20)} median ${med(res[k]).toFixed(3)} ms  [${res[k].map((v) => v.toFixed(3)).join(' ')}]`);
  for (const m of ['ttft c1', 'ttft c4', 'lat60 p50']) {
    const o = res[`${m} old`].map((v, i) => v - res[`${m} direct`][i]);
    const n = res[`${m} new`].map((v, i) => v - res[`${m} direct`][i]);
    console.log(`${m}: added over direct, old ${med(o).toFixed(3)} new ${med(n).toFixed(3)} ms (per round old [${o.map((v) => v.toFixed(2)).join(' ')}] new [${n.map((v) => v.toFixed(2)).join(' ')}])`);
  }
} finally {
  await pair.stop();
}
