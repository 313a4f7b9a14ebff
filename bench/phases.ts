// Benchmark phases: throughput + 1-connection latency (per upstream latency), streaming, fixed-rate Redis/Postgres
// counts, the RSS soak and the CPU profile. Each returns table rows (medians of alternating rounds).
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { latency1, streaming, throughput, type Target } from './load.js';
import { cpuSeconds, rssMb } from './procs.js';
import { monitorRedis, pgCommits, redisReads } from './services.js';
import { simSettings, type Running } from './targets.js';
import { median, type Row, type TargetName } from './report.js';
import { summariseProfile } from './profile.js';
import { flameGraphOfFile } from './flamegraph.js';
import { parseExposition, sumOf } from '../test/observability/support.js';

export interface Plan {
  rounds: number;
  thrS: number;
  latMs: number;
  /**
   * Seconds of 32-connection load per target before a latency phase's rounds. 15 since 2026-12-07 (sixth session):
   * Tollgate's JIT takes ~15-20 s of load to settle (TurboFan compilations per 5 s: 324, 158, 102, then 13-40; its
   * CPU per request 0.38 → 0.27 ms over those 20 s), so with 2 s its first rounds timed the compiler at work. Every
   * target gets the same; a gateway in service has long compiled its request path.
   */
  warmS: number;
  maxTokens: number;
  streams: number;
  /** Unpaced streams through every target before the stream rounds, so that they measure JIT-compiled stream code. */
  warmStreams: number;
  streamConc: number;
  streamTokens: number;
  ttftMs: number;
  gapMs: number;
  rates: number[];
  rateLeadMs: number;
  rateWindowMs: number;
  afterMs: number;
  /** How long to keep reading RSS after the load for its lowest value: V8 gives its young generation back after ~40 s idle. */
  settleMs: number;
}

type Log = (s: string) => void;
type PerTarget = Map<TargetName, number[]>;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function push(m: PerTarget, t: string, v: number): void {
  const k = t as TargetName;
  m.set(k, [...(m.get(k) ?? []), v]);
}
function medians(m: PerTarget): Partial<Record<TargetName, number>> {
  return Object.fromEntries([...m].map(([k, v]) => [k, median(v)])) as Partial<Record<TargetName, number>>;
}
function names(running: Running[]): TargetName[] {
  return running.map((r) => r.target.name as TargetName);
}
/** Target order rotated per round so that no target always runs first (warm caches, neighbours' load). */
function rotated<T>(xs: T[], round: number): T[] {
  const k = round % xs.length;
  return [...xs.slice(k), ...xs.slice(0, k)];
}
function addedOverDirect(m: PerTarget): PerTarget {
  const direct = m.get('direct') ?? [];
  const out: PerTarget = new Map();
  for (const [k, v] of m) if (k !== 'direct') out.set(k, v.map((x, i) => x - (direct[i] ?? Number.NaN)));
  return out;
}
function withoutDirect(ts: TargetName[]): TargetName[] {
  return ts.filter((t) => t !== 'direct');
}

/** CPU (ms) a process has spent since the `cpuSeconds` reading `since`, per request (or stream). */
function cpuMsPer(pid: number, since: number, requests: number): number {
  return ((cpuSeconds(pid) - since) * 1000) / Math.max(1, requests);
}

/** Samples the max RSS of a process while `work` runs. */
async function maxRssDuring<T>(pid: number, work: Promise<T>): Promise<{ result: T; maxMb: number }> {
  let maxMb = rssMb(pid);
  const timer = setInterval(() => {
    maxMb = Math.max(maxMb, rssMb(pid));
  }, 200);
  try {
    return { result: await work, maxMb: Math.max(maxMb, rssMb(pid)) };
  } finally {
    clearInterval(timer);
  }
}

/** Processes whose CPU counts towards a target's requests too: the simulator (every target's upstream), Tollgate's Redis. */
export interface SideProcs {
  simPid: number;
  redisPid: number;
}

/** The side processes behind a target: the simulator unless it is the target itself, Redis for Tollgate only. */
function behind(target: string, side: SideProcs): { sim: number | null; redis: number | null } {
  return { sim: target === 'direct' ? null : side.simPid, redis: target === 'tollgate' ? side.redisPid : null };
}

export async function latencyPhase(plan: Plan, sim: string, running: Running[], upstreamMs: number, rssIdle: Map<string, number> | undefined, side: SideProcs, log: Log): Promise<Row[]> {
  await simSettings(sim, { latencyMs: upstreamMs, ttftMs: 0, chunkDelayMs: 0 });
  const thr: PerTarget = new Map();
  const simCpu: PerTarget = new Map();
  const redisCpu: PerTarget = new Map();
  const coreCpu1: PerTarget = new Map();
  const errs: PerTarget = new Map();
  const p50: PerTarget = new Map();
  const p99: PerTarget = new Map();
  const rss: PerTarget = new Map();
  const cpu: PerTarget = new Map();
  for (const r of running) await throughput(r.target, { connections: 32, durationS: plan.warmS, maxTokens: plan.maxTokens });
  for (let round = 0; round < plan.rounds; round++) {
    for (const r of rotated(running, round)) {
      const t = r.target;
      const b = behind(t.name, side);
      const cpu0 = cpuSeconds(r.proc.serverPid);
      const sim0 = cpuSeconds(side.simPid);
      const redis0 = cpuSeconds(side.redisPid);
      const { result, maxMb } = await maxRssDuring(r.proc.serverPid, throughput(t, { connections: 32, durationS: plan.thrS, maxTokens: plan.maxTokens }));
      const served = result.ok + result.errors;
      push(cpu, t.name, cpuMsPer(r.proc.serverPid, cpu0, served));
      if (b.sim !== null) push(simCpu, t.name, cpuMsPer(b.sim, sim0, served));
      if (b.redis !== null) push(redisCpu, t.name, cpuMsPer(b.redis, redis0, served));
      push(thr, t.name, result.rps);
      push(errs, t.name, result.errors);
      push(rss, t.name, maxMb);
      const pids = [r.proc.serverPid, b.sim, b.redis].filter((pid): pid is number => pid !== null);
      const core0 = pids.map((pid) => cpuSeconds(pid));
      const l = await latency1(t, { durationMs: plan.latMs, maxTokens: plan.maxTokens });
      const each = pids.map((pid, i) => cpuMsPer(pid, core0[i], l.sent));
      push(coreCpu1, t.name, each.reduce((a, b) => a + b, 0));
      push(p50, t.name, l.p50Us / 1000);
      push(p99, t.name, l.p99Us / 1000);
      push(errs, t.name, l.errors);
      log(`[${upstreamMs} ms upstream, round ${round + 1}] ${t.name}: ${result.rps.toFixed(0)} req/s (${result.errors} errors), 1 conn p50 ${(l.p50Us / 1000).toFixed(3)} ms p99 ${(l.p99Us / 1000).toFixed(3)} ms, max RSS ${maxMb.toFixed(0)} MB; CPU per request @1 conn ${each.map((x) => x.toFixed(3)).join(' + ')} ms (serving process, simulator, Redis)`);
    }
  }
  const all = names(running);
  const errTotal = Object.fromEntries([...errs].map(([k, v]) => [k, v.reduce((a, b) => a + b, 0)])) as Partial<Record<TargetName, number>>;
  const addP50 = medians(addedOverDirect(p50));
  const addP99 = medians(addedOverDirect(p99));
  const tag = `${upstreamMs} ms upstream`;
  const thrM = medians(thr);
  const rows: Row[] = [
    { label: `throughput @32 conn, ${tag}`, unit: 'req/s', values: thrM, applies: all, ratios: true, decimals: 0, ...(upstreamMs === 0 ? { goal: '≥ 0.6× proxy', met: (thrM.tollgate ?? 0) >= 0.6 * (thrM.proxy ?? Infinity) } : {}) },
    { label: `errors (all rounds), ${tag}`, unit: 'count', values: errTotal, applies: all, ratios: false, decimals: 0, goal: '0', met: errTotal.tollgate === 0 },
    { label: `CPU per request of the serving process @32 conn, ${tag}`, unit: 'ms', values: medians(cpu), applies: all, ratios: true, decimals: 3 },
    // On the bench's one server core these add up: what a request costs that core is the sum of the three rows.
    { label: `CPU per request of the simulator behind it @32 conn, ${tag}`, unit: 'ms', values: medians(simCpu), applies: withoutDirect(all), ratios: true, decimals: 3 },
    { label: `CPU per request of Tollgate's Redis @32 conn, ${tag}`, unit: 'ms', values: medians(redisCpu), applies: all.filter((n) => n === 'tollgate'), ratios: false, decimals: 3 },
    // At one connection the servers' core runs one request at a time: its CPU per request is most of the latency.
    { label: `CPU per request @1 conn, serving process + simulator + its Redis, ${tag}`, unit: 'ms', values: medians(coreCpu1), applies: all, ratios: true, decimals: 3 },
    { label: `latency @1 conn p50, ${tag}`, unit: 'ms', values: medians(p50), applies: all, ratios: true, decimals: 3 },
    { label: `latency @1 conn p99, ${tag}`, unit: 'ms', values: medians(p99), applies: all, ratios: true, decimals: 3 },
    { label: `added p50 over direct, ${tag}`, unit: 'ms', values: addP50, applies: withoutDirect(all), ratios: true, decimals: 3, goal: '≤ 0.5 ms', met: (addP50.tollgate ?? Infinity) <= 0.5 },
    { label: `added p99 over direct, ${tag}`, unit: 'ms', values: addP99, applies: withoutDirect(all), ratios: true, decimals: 3, goal: '≤ 2 ms', met: (addP99.tollgate ?? Infinity) <= 2 },
  ];
  if (rssIdle) {
    const load = medians(rss);
    rows.push({ label: 'RSS idle (after start)', unit: 'MB', values: Object.fromEntries(rssIdle) as Partial<Record<TargetName, number>>, applies: all, ratios: true, decimals: 0 });
    rows.push({ label: 'RSS under load (max, 32 conn)', unit: 'MB', values: load, applies: all, ratios: true, decimals: 0, goal: '≤ 150 MB', met: (load.tollgate ?? Infinity) <= 150 });
  }
  return rows;
}

export async function streamPhase(plan: Plan, sim: string, running: Running[], log: Log): Promise<{ rows: Row[]; notes: string[] }> {
  // Warm-up, as the latency phases have: the earlier phases served only non-streaming requests, so without it the
  // first rounds time V8 running the stream code unoptimised (a gateway in service has long compiled it).
  await simSettings(sim, { latencyMs: 0, ttftMs: 0, chunkDelayMs: 0 });
  for (const r of running) await streaming(r.target, { streams: plan.warmStreams, concurrency: plan.streamConc, maxTokens: plan.streamTokens });
  await simSettings(sim, { latencyMs: 0, ttftMs: plan.ttftMs, chunkDelayMs: plan.gapMs });
  const ttft: PerTarget = new Map();
  const gap: PerTarget = new Map();
  const errs: PerTarget = new Map();
  const events: PerTarget = new Map();
  const cpu: PerTarget = new Map();
  const failures = new Map<string, string>();
  for (let round = 0; round < plan.rounds; round++) {
    for (const r of rotated(running, round)) {
      const cpu0 = cpuSeconds(r.proc.serverPid);
      const s = await streaming(r.target, { streams: plan.streams, concurrency: plan.streamConc, maxTokens: plan.streamTokens });
      // The serving process's CPU over the round (user + system, all threads) per stream: steadier than the timings.
      push(cpu, r.target.name, cpuMsPer(r.proc.serverPid, cpu0, plan.streams));
      push(ttft, r.target.name, s.ttftP50Us / 1000);
      push(gap, r.target.name, s.gapP99Us / 1000);
      push(errs, r.target.name, s.errors);
      push(events, r.target.name, s.chunksPerStream);
      if (s.firstError && !failures.has(r.target.name)) failures.set(r.target.name, s.firstError);
      log(`[stream, round ${round + 1}] ${r.target.name}: TTFT p50 ${(s.ttftP50Us / 1000).toFixed(3)} ms, gap p99 ${(s.gapP99Us / 1000).toFixed(3)} ms, ${s.chunksPerStream.toFixed(0)} events/stream, ${s.errors} errors`);
    }
  }
  const all = names(running);
  const addTtft = medians(addedOverDirect(ttft));
  const addGap = medians(addedOverDirect(gap));
  const errTotal = Object.fromEntries([...errs].map(([k, v]) => [k, v.reduce((a, b) => a + b, 0)])) as Partial<Record<TargetName, number>>;
  const notes = [...failures].map(([t, e]) => `Streaming through ${t} failed: ${e}`);
  const rows: Row[] = [
    { label: 'stream SSE events per stream (data, incl. usage)', unit: 'count', values: medians(events), applies: all, ratios: false, decimals: 0 },
    { label: 'CPU per stream of the serving process', unit: 'ms', values: medians(cpu), applies: all, ratios: true, decimals: 2 },
    { label: 'stream errors (all rounds)', unit: 'count', values: errTotal, applies: all, ratios: false, decimals: 0, goal: '0', met: errTotal.tollgate === 0 },
    { label: 'stream TTFT p50', unit: 'ms', values: medians(ttft), applies: all, ratios: false, decimals: 3 },
    { label: 'stream added TTFT over direct', unit: 'ms', values: addTtft, applies: withoutDirect(all), ratios: true, decimals: 3, goal: '≤ 1 ms', met: (addTtft.tollgate ?? Infinity) <= 1 },
    { label: 'stream inter-chunk gap p99', unit: 'ms', values: medians(gap), applies: all, ratios: false, decimals: 3 },
    { label: 'stream added gap p99 over direct', unit: 'ms', values: addGap, applies: withoutDirect(all), ratios: true, decimals: 3, goal: '≤ 1 ms', met: (addGap.tollgate ?? Infinity) <= 1 },
  ];
  return { rows, notes };
}

/** Tollgate alone at fixed request rates: Redis commands per request, Postgres commits per second. */
export async function fixedRatePhase(plan: Plan, sim: string, tg: Running, redisUrl: string, dbName: string, log: Log): Promise<{ rows: Row[]; notes: string[] }> {
  await simSettings(sim, { latencyMs: 0, ttftMs: 0, chunkDelayMs: 0 });
  const rows: Row[] = [];
  const notes: string[] = [];
  for (const rate of plan.rates) {
    const monitor = await monitorRedis(redisUrl);
    const aheadA = await admissionsAhead(tg);
    const readsA = await redisReads(redisUrl);
    const durationS = Math.ceil((plan.rateLeadMs + plan.rateWindowMs + 500) / 1000);
    const load = throughput(tg.target, { connections: 8, durationS, overallRate: rate, maxTokens: plan.maxTokens });
    await sleep(plan.rateLeadMs);
    const pgA = await pgCommits(dbName);
    const t0 = performance.now();
    await sleep(plan.rateWindowMs);
    const pgB = await pgCommits(dbName);
    const pgPerS = (pgB - pgA) / ((performance.now() - t0) / 1000);
    const r = await load;
    await sleep(500); // budget settlements run after the response
    const readsB = await redisReads(redisUrl);
    const aheadB = await admissionsAhead(tg);
    const ahead = aheadB.ahead - aheadA.ahead;
    const admissions = aheadB.all - aheadA.all;
    const counts = monitor.stop();
    const requests = r.ok + r.errors;
    const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    const per = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${(v / requests).toFixed(2)}`).join(', ') || 'none';
    const commands = sum(counts.topLevel) / requests;
    // Less the INFO call that took the second reading (the first is before readsA was counted).
    const trips = (readsB - readsA - 1) / requests;
    const inner = sum(counts.inLua) / requests;
    log(`[fixed rate ${rate}/s] ${requests} requests (${r.errors} errors), ${ahead} of ${admissions} admissions ahead of Redis' answer: Redis ${trips.toFixed(2)} round trips/request carrying ${commands.toFixed(2)} commands (${per(counts.topLevel)}), ${inner.toFixed(2)} commands inside Lua; Postgres ${pgPerS.toFixed(1)} commits/s`);
    notes.push(`At ${rate} req/s (${requests} requests): Redis commands sent per request: ${per(counts.topLevel)}; run inside Lua scripts per request: ${per(counts.inLua)}.`);
    rows.push({ label: `Redis round trips per request @${rate}/s (socket reads by Redis)`, unit: 'trips', values: { tollgate: trips }, applies: ['tollgate'], ratios: false, decimals: 2, goal: '≤ 1 on admission', met: trips <= 1.05 });
    rows.push({ label: `admissions not waiting for Redis' answer @${rate}/s (share)`, unit: '%', values: { tollgate: admissions > 0 ? (100 * ahead) / admissions : 0 }, applies: ['tollgate'], ratios: false, decimals: 1 });
    rows.push({ label: `Redis commands per request @${rate}/s`, unit: 'cmd', values: { tollgate: commands }, applies: ['tollgate'], ratios: false, decimals: 2 });
    rows.push({ label: `Redis commands inside Lua per request @${rate}/s`, unit: 'cmd', values: { tollgate: inner }, applies: ['tollgate'], ratios: false, decimals: 1 });
    rows.push({ label: `Postgres commits per second @${rate}/s`, unit: '1/s', values: { tollgate: pgPerS }, applies: ['tollgate'], ratios: false, decimals: 1, goal: 'set by the batch interval' });
  }
  notes.push('Postgres: xact_commit delta of the bench database in pg_stat_database (pg_stat_statements is not preloaded on this server); every autocommit statement is one commit.');
  return { rows, notes };
}

/** The limiter's admissions so far, all and those that went ahead of Redis' answer (src/limits/ahead.ts), from /metrics. */
async function admissionsAhead(tg: Running): Promise<{ ahead: number; all: number }> {
  const s = parseExposition(await (await fetch(`${tg.target.origin}/metrics`)).text());
  return { ahead: sumOf(s, 'tollgate_limiter_admissions_total', { path: 'ahead' }), all: sumOf(s, 'tollgate_limiter_admissions_total') };
}

/** Tollgate alone, many requests at 32 connections, RSS after each tenth: flat means no leak. */
export async function soakPhase(sim: string, tg: Running, total: number, log: Log): Promise<{ rows: Row[]; notes: string[] }> {
  await simSettings(sim, { latencyMs: 0, ttftMs: 0, chunkDelayMs: 0 });
  const step = Math.ceil(total / 10);
  // V8 heap in use (tollgate_nodejs_heap_size_used_bytes): a leak grows it whatever the allocator does with RSS.
  const heapMb = async () => sumOf(parseExposition(await (await fetch(`${tg.target.origin}/metrics`)).text()), 'tollgate_nodejs_heap_size_used_bytes') / 1e6;
  const series: number[] = [rssMb(tg.proc.serverPid)];
  const heap: number[] = [await heapMb()];
  let errors = 0;
  for (let done = 0; done < total; done += step) {
    const r = await throughput(tg.target, { connections: 32, amount: step, maxTokens: 32 });
    errors += r.errors;
    series.push(rssMb(tg.proc.serverPid));
    heap.push(await heapMb());
    log(`[soak] ${done + step} requests: RSS ${series[series.length - 1].toFixed(0)} MB, heap used ${heap[heap.length - 1].toFixed(1)} MB, ${r.rps.toFixed(0)} req/s, ${r.errors} errors`);
  }
  const tenth = series[2];
  const last = series[series.length - 1];
  const half = Math.floor((heap.length - 1) / 2);
  const lowFirst = Math.min(...heap.slice(1, 1 + half));
  const lowSecond = Math.min(...heap.slice(1 + half));
  return {
    rows: [
      { label: `RSS after 10% of ${total} requests`, unit: 'MB', values: { tollgate: tenth }, applies: ['tollgate'], ratios: false, decimals: 0 },
      { label: `RSS after ${total} requests`, unit: 'MB', values: { tollgate: last }, applies: ['tollgate'], ratios: false, decimals: 0, goal: 'flat (no leak)', met: last <= tenth * 1.15 },
      // The heap in use is a sawtooth between collections: a leak shows as rising troughs, so the lowest readings of
      // the two halves are compared (a single last reading can land anywhere on the tooth).
      {
        label: `heap used, lowest reading in the second half of ${total} requests`,
        unit: 'MB',
        values: { tollgate: lowSecond },
        applies: ['tollgate'],
        ratios: false,
        decimals: 1,
        goal: `flat (first half: ${lowFirst.toFixed(1)})`,
        met: lowSecond <= lowFirst * 1.25 + 5,
      },
      { label: `soak errors`, unit: 'count', values: { tollgate: errors }, applies: ['tollgate'], ratios: false, decimals: 0, goal: '0', met: errors === 0 },
    ],
    notes: [
      `Soak RSS series (MB, every ${step} requests): ${series.map((x) => x.toFixed(0)).join(' → ')}.`,
      `Soak heap-used series (MB, tollgate_nodejs_heap_size_used_bytes at the same points): ${heap.map((x) => x.toFixed(1)).join(' → ')}.`,
    ],
  };
}

/**
 * Bytes allocated per request of each serving process (bench/alloc-sampler.mjs, V8's sampling heap profiler with the
 * collected objects counted) over `requests` non-streaming requests at 32 connections, 0 ms upstream. One round: the
 * figure does not move with the machine's load as CPU time does (sampling at 8 KiB, ±1% at these counts).
 */
export async function allocationPhase(plan: Plan, sim: string, running: Running[], logDir: string, requests: number, log: Log): Promise<Row> {
  await simSettings(sim, { latencyMs: 0, ttftMs: 0, chunkDelayMs: 0 });
  const values: Partial<Record<TargetName, number>> = {};
  for (const r of running) {
    const pid = r.proc.serverPid;
    const file = join(logDir, `alloc-${pid}.json`);
    rmSync(file, { force: true });
    process.kill(pid, 'SIGUSR2');
    await sleep(200);
    const res = await throughput(r.target, { connections: 32, amount: requests, maxTokens: plan.maxTokens });
    process.kill(pid, 'SIGUSR2');
    const deadline = Date.now() + 30_000;
    while (!existsSync(file) && Date.now() < deadline) await sleep(100);
    if (!existsSync(file)) throw new Error(`${r.target.name}: the allocation sampler wrote no ${file}`);
    const { bytes } = JSON.parse(readFileSync(file, 'utf8')) as { bytes: number };
    if (!(bytes > 0)) throw new Error(`${r.target.name}: the allocation sampler failed`);
    const served = res.ok + res.errors;
    values[r.target.name as TargetName] = bytes / 1024 / served;
    log(`[allocation] ${r.target.name}: ${(bytes / 1024 / served).toFixed(1)} KiB allocated per request over ${served} requests (${res.errors} errors)`);
  }
  return { label: 'KiB allocated per request @32 conn, 0 ms upstream', unit: 'KiB', values, applies: names(running), ratios: true, decimals: 1 };
}

/** Tollgate alone under 32-connection load while --cpu-prof records; the profile is written at its graceful exit. Also drawn as a flame graph. */
export async function profilePhase(plan: Plan, sim: string, tg: Running, profDir: string, log: Log): Promise<string> {
  await simSettings(sim, { latencyMs: 0, ttftMs: 0, chunkDelayMs: 0 });
  const r = await throughput(tg.target, { connections: 32, durationS: Math.max(5, plan.thrS * 3), maxTokens: plan.maxTokens });
  log(`[profile] ${r.rps.toFixed(0)} req/s, ${r.errors} errors; stopping Tollgate to write the profile`);
  await tg.proc.stop('SIGTERM');
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile in ${profDir}`);
  const flame = join(profDir, 'flame.svg');
  writeFileSync(flame, flameGraphOfFile(join(profDir, file), `Tollgate under 32-connection load, ${r.rps.toFixed(0)} req/s (npm run bench -- --profile)`));
  return `${summariseProfile(join(profDir, file), 40)}\nflame graph (open in a browser): ${flame}\n`;
}

export type { Target };
