// `npm run bench`: direct vs bare proxy vs Tollgate (every feature on) vs Portkey, alternating rounds, medians, RESULTS.md.
// Options: --quick (seconds; CI), --no-portkey, --rounds=N, --requests=N / --soak (RSS across many requests),
// --targets=proxy,tollgate, --phases=lat0,stream (subsets for before/after checks), --tollgate-env=K=V / --tollgate-node-args=--flag (ablations), --redis-delay-ms=N (Redis replies N ms late, as across a network), --no-build, --profile (CPU profile of Tollgate under load, summarised), --keep-logs (keep the servers' logs and the allocation profiles: bench/alloc-profile.ts reads them), --json=PATH, --out=PATH (default bench/RESULTS.md; --quick writes only with --out).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildGateway } from '../test/support/process.js';
import { type DelayProxy, startDelayProxy } from './delay-proxy.js';
import { pinSelf, rssMb } from './procs.js';
import { createBenchDatabase, startRedis } from './services.js';
import { startPortkey, startProxy, startSimulator, startTollgate, type Running } from './targets.js';
import { gitCommit, machine, markdown, mergeResults, table, TARGETS, type Results, type TargetName } from './report.js';
import { allocationPhase, latencyPhase, streamPhase, fixedRatePhase, soakPhase, profilePhase, type Plan } from './phases.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'no-portkey': { type: 'boolean', default: false },
    rounds: { type: 'string' },
    /** Seconds of 32-connection load per target before each latency phase's rounds (default 15; --quick 0.3). */
    'warm-s': { type: 'string' },
    requests: { type: 'string' },
    soak: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    json: { type: 'string' },
    /** Comma-separated subset of direct,proxy,tollgate,portkey (direct always runs: "added" figures need it). */
    targets: { type: 'string' },
    /** Comma-separated subset of lat0,lat60,alloc,stream,rate. */
    phases: { type: 'string' },
    /** Ablation: KEY=VALUE,... added to Tollgate's environment (the results say so). */
    'tollgate-env': { type: 'string' },
    /** Ablation: node command-line options for Tollgate, comma-separated (V8 flags that NODE_OPTIONS refuses). */
    'tollgate-node-args': { type: 'string' },
    /** Redis as if across a network: its replies reach Tollgate this many ms late (a delaying proxy in this process). */
    'redis-delay-ms': { type: 'string' },
    out: { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    'keep-logs': { type: 'boolean', default: false },
  },
});
// Tollgate runs as `npm start` runs it: the build of src/ on plain node (--no-build: the test suite built it already).
if (!args['no-build']) buildGateway();

const quick = args.quick;
const plan: Plan = quick
  ? { rounds: 1, thrS: 0.5, latMs: 300, warmS: 0.3, maxTokens: 32, streams: 4, warmStreams: 2, streamConc: 2, streamTokens: 14, ttftMs: 2, gapMs: 2, rates: [50, 150], rateLeadMs: 500, rateWindowMs: 1000, afterMs: 500, settleMs: 1000 }
  : { rounds: 3, thrS: 5, latMs: 3000, warmS: 15, maxTokens: 32, streams: 16, warmStreams: 300, streamConc: 4, streamTokens: 68, ttftMs: 20, gapMs: 20, rates: [100, 400], rateLeadMs: 3000, rateWindowMs: 10_000, afterMs: 5000, settleMs: 60_000 };
if (args.rounds) plan.rounds = Math.max(1, Number(args.rounds));
if (args['warm-s']) plan.warmS = Math.max(0, Number(args['warm-s']));
const wanted = (v: string | undefined, all: string[]) => new Set(v ? v.split(',').map((x) => x.trim()) : all);
const targets = wanted(args.targets, ['direct', 'proxy', 'tollgate', 'portkey']);
const phases = wanted(args.phases, ['lat0', 'lat60', 'alloc', 'stream', 'rate']);
const tollgateNodeArgs = (args['tollgate-node-args'] ?? '').split(',').filter(Boolean);
const tollgateEnv = Object.fromEntries((args['tollgate-env'] ?? '').split(',').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
const soakRequests = args.requests ? Number(args.requests) : args.soak ? 200_000 : 0;

async function main(): Promise<void> {
  const logDir = mkdtempSync(join(tmpdir(), 'tollgate-bench-'));
  const twoCores = cpus().length >= 2;
  const pinned = twoCores && pinSelf('0');
  const ctx = { logDir, cpus: pinned ? '1' : undefined };
  const pinning = pinned
    ? 'load generator (this process) on CPU 0; simulator, proxy, Tollgate, Portkey and the private redis-server on CPU 1; Postgres (shared server) not pinned'
    : 'none (taskset missing or one core)';
  const log = (s: string) => process.stdout.write(`${s}\n`);
  const procs: Running['proc'][] = [];
  let redisDelay: DelayProxy | null = null;
  const db = await createBenchDatabase();
  try {
    const sim = await startSimulator(ctx, 80);
    procs.push(sim.proc);
    const redis = await startRedis(logDir, ctx.cpus);
    procs.push(redis.server);
    if (args['redis-delay-ms']) redisDelay = await startDelayProxy(redis.url, Number(args['redis-delay-ms']));
    const tollgate = await startTollgate(ctx, {
      simOrigin: sim.base,
      databaseUrl: db.url,
      redisUrl: redisDelay?.url ?? redis.url,
      dataDir: join(logDir, 'data'),
      cpuProfDir: args.profile ? join(logDir, 'prof') : undefined,
      extraEnv: tollgateEnv,
      nodeArgs: tollgateNodeArgs,
    });
    procs.push(tollgate.proc);
    log(`simulator :${sim.proc.port}, redis ${redis.url}, tollgate :${tollgate.proc.port} (db ${db.name}), logs in ${logDir}`);

    if (args.profile) {
      const summary = await profilePhase(plan, sim.base, tollgate, join(logDir, 'prof'), log);
      writeFileSync(join(logDir, 'profile-summary.txt'), summary);
      log(summary);
      return;
    }
    const running: Running[] = [sim];
    const skipped: Results['skipped'] = {};
    if (targets.has('proxy')) {
      const proxy = await startProxy(ctx, sim.base);
      procs.push(proxy.proc);
      running.push(proxy);
    }
    if (targets.has('tollgate')) running.push(tollgate);
    if (args['no-portkey'] || !targets.has('portkey')) skipped.portkey = 'not run (--no-portkey)';
    else {
      log('starting Portkey 1.15.2 through npx (the first run installs it)…');
      const pk = await startPortkey(ctx, sim.base);
      if ('skipped' in pk) {
        skipped.portkey = pk.skipped;
        log(`Portkey skipped: ${pk.skipped}`);
      } else {
        procs.push(pk.proc);
        running.push(pk);
      }
    }
    const ran = running.map((r) => r.target.name as TargetName).sort((a, b) => TARGETS.indexOf(a) - TARGETS.indexOf(b));
    const rssIdle = new Map(running.map((r) => [r.target.name, rssMb(r.proc.serverPid)]));

    const rows = [];
    const notes: string[] = [];
    const side = { simPid: sim.proc.serverPid, redisPid: redis.server.serverPid };
    if (phases.has('lat0')) rows.push(...(await latencyPhase(plan, sim.base, running, 0, rssIdle, side, log)));
    if (phases.has('lat60')) rows.push(...(await latencyPhase(plan, sim.base, running, 60, undefined, side, log)));
    // The allocation phase attaches V8's sampling heap profiler through an inspector session, whose native memory stays
    // with the process (~9 MB of Tollgate's RSS after the load in one run each way): it runs after the RSS readings,
    // and its row keeps its place in the table.
    const allocAt = rows.length;
    if (phases.has('stream')) {
      const streams = await streamPhase(plan, sim.base, running, log);
      rows.push(...streams.rows);
      notes.push(...streams.notes);
    }
    if (phases.has('rate')) {
      const rate = await fixedRatePhase(plan, sim.base, tollgate, redis.url, db.name, log);
      rows.push(...rate.rows);
      notes.push(...rate.notes);
    }
    await new Promise((r) => setTimeout(r, plan.afterMs));
    const lowest = new Map(running.map((r) => [r.target.name, rssMb(r.proc.serverPid)]));
    rows.push({
      label: 'RSS after load (idle again)',
      unit: 'MB',
      values: Object.fromEntries(lowest),
      applies: [...ran],
      ratios: true,
      decimals: 0,
    });
    // "Back near idle afterwards" (issue 8): V8 keeps the young generation it grew under load until its memory reducer
    // runs (~40 s of quiet), so the figure 5 s after says little. The lowest reading over the settle window, each
    // server's own (from the reading above on), and the goal: within 25% of its idle RSS.
    const settleStart = Date.now();
    while (Date.now() - settleStart < plan.settleMs) {
      await new Promise((r) => setTimeout(r, Math.min(1000, plan.settleMs)));
      for (const r of running) lowest.set(r.target.name, Math.min(lowest.get(r.target.name) ?? Infinity, rssMb(r.proc.serverPid)));
    }
    const tgIdle = rssIdle.get('tollgate');
    const tgLow = lowest.get('tollgate');
    rows.push({
      label: `RSS after load, lowest within ${Math.round((plan.afterMs + plan.settleMs) / 1000)} s`,
      unit: 'MB',
      values: Object.fromEntries(lowest),
      applies: [...ran],
      ratios: true,
      decimals: 0,
      ...(tgIdle !== undefined && tgLow !== undefined ? { goal: '≤ 1.25 × idle', met: tgLow <= tgIdle * 1.25 } : {}),
    });
    if (phases.has('alloc')) rows.splice(allocAt, 0, await allocationPhase(plan, sim.base, running, logDir, quick ? 300 : 5000, log));
    if (soakRequests > 0) {
      const soak = await soakPhase(sim.base, tollgate, soakRequests, log);
      rows.push(...soak.rows);
      notes.push(...soak.notes);
    }
    if (Object.keys(tollgateEnv).length > 0) notes.push(`Ablation run: Tollgate started with ${JSON.stringify(tollgateEnv)}.`);
    if (redisDelay) notes.push(`Redis as if across a network: its replies reached Tollgate ${args['redis-delay-ms']} ms late (bench/delay-proxy.ts).`);
    if (tollgateNodeArgs.length > 0) notes.push(`Ablation run: Tollgate started as node ${tollgateNodeArgs.join(' ')} build/main.js.`);
    notes.push(
      'The machine is shared with other engineers\' test runs while this ran: figures are noisy; each is the median of alternating rounds (target order rotated per round).',
      'Throughput: autocannon, 32 keep-alive connections, non-streaming chat (max_tokens 32); 2xx per second. Latency at 1 connection: undici, sequential, hrtime µs, exact percentiles.',
      `Streaming: ${plan.streamTokens} output tokens (the events row counts the SSE data events) paced at ${plan.gapMs} ms (TTFT ${plan.ttftMs} ms upstream); TTFT = first event with content; gap = between consecutive SSE events as read by the client.`,
      'CPU per request: user+system CPU of the serving process (/proc/PID/stat) over a throughput round ÷ requests; for "direct" it is the simulator\'s own cost. Robust to a busy machine where throughput is not.',
      'RSS is the VmRSS of the serving process only (for Portkey the node server under npx; for Tollgate not counting Redis and Postgres).',
    );
    const res: Results = { date: new Date().toISOString(), mode: quick ? 'quick' : soakRequests ? `requests=${soakRequests}` : 'full', machine: machine(pinning), commit: gitCommit(), ran, skipped, rows, notes };
    log('');
    log(table(res));
    log('');
    for (const n of notes) log(`- ${n}`);
    const out = args.out ?? (quick ? undefined : 'bench/RESULTS.md');
    if (out) writeFileSync(out, mergeResults(existsSync(out) ? readFileSync(out, 'utf8') : '', markdown(res)));
    if (args.json) writeFileSync(args.json, JSON.stringify(res, null, 2));
  } finally {
    for (const p of procs.reverse()) await p.stop();
    await redisDelay?.close();
    await db.drop().catch(() => {});
    if (!args.profile && !args['keep-logs']) rmSync(logDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  },
);
