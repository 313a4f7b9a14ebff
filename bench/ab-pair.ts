// Two Tollgate builds side by side for the A/B probes (ab-probe.ts, ab-throughput.ts): the other checkout's build and
// this one's, each with its own Redis and database, both behind one simulator (at 0 ms unless `latencyMs` says
// otherwise), servers on CPU 1 and the caller on CPU 0 as in the bench, warmed up before the first round.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { latency1, throughput } from './load.js';
import { pinSelf } from './procs.js';
import { createBenchDatabase, startRedis } from './services.js';
import { type Running, simSettings, startSimulator, startTollgate } from './targets.js';

export interface Build {
  tg: Running;
  /** Its own Redis' process id (for its CPU time). */
  redisPid: number;
}

export interface BuildPair {
  old: Build;
  new: Build;
  /** The simulator both builds call (its settings, and `target` for direct calls). */
  sim: Running & { base: string };
  stop(): Promise<void>;
}

export async function startBuildPair(
  oldDir: string,
  o: { warmup: number; warmS?: number; newNodeArgs?: string[]; latencyMs?: number; simTokens?: number },
): Promise<BuildPair> {
  const logDir = mkdtempSync(join(tmpdir(), 'tollgate-ab-'));
  const ctx = { logDir, cpus: pinSelf('0') ? '1' : undefined };
  const sim = await startSimulator(ctx, o.simTokens ?? 32);
  // Each build's logs in a directory of its own (the servers' log files are named after them).
  const [oDir, nDir] = [mkdtempSync(join(logDir, 'old-')), mkdtempSync(join(logDir, 'new-'))];
  const [r1, r2] = [await startRedis(oDir, ctx.cpus), await startRedis(nDir, ctx.cpus)];
  const [d1, d2] = [await createBenchDatabase(), await createBenchDatabase()];
  const oldTg = await startTollgate({ ...ctx, logDir: oDir }, { simOrigin: sim.base, databaseUrl: d1.url, redisUrl: r1.url, dataDir: join(logDir, 'd1'), entry: join(oldDir, 'build/main.js') });
  const newTg = await startTollgate({ ...ctx, logDir: nDir }, { simOrigin: sim.base, databaseUrl: d2.url, redisUrl: r2.url, dataDir: join(logDir, 'd2'), nodeArgs: o.newNodeArgs });
  const stop = async () => {
    await Promise.allSettled([oldTg.proc.stop(), newTg.proc.stop(), sim.proc.stop(), r1.server.stop(), r2.server.stop(), d1.drop(), d2.drop()]);
    rmSync(logDir, { recursive: true, force: true });
  };
  try {
    await simSettings(sim.base, { latencyMs: o.latencyMs ?? 0 });
    for (const t of [oldTg, newTg]) await latency1(t.target, { durationMs: 100, maxTokens: 32, warmup: o.warmup });
    // As the bench's latency phases: the JIT settles after ~15 s of load (bench/phases.ts, Plan.warmS).
    for (const t of [oldTg, newTg]) await throughput(t.target, { connections: 32, durationS: o.warmS ?? 15, maxTokens: 32 });
  } catch (e) {
    await stop();
    throw e;
  }
  return { old: { tg: oldTg, redisPid: r1.server.serverPid }, new: { tg: newTg, redisPid: r2.server.serverPid }, sim, stop };
}
