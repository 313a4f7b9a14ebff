// The systems under test, each its own process pinned to the server core: the simulator (upstream), the bare proxy,
// Tollgate with every feature on, and the Portkey gateway (skipped with a message when npx cannot install it).
import { randomBytes } from 'node:crypto';
import { freePort, spawnServer, type Spawned } from './procs.js';
import { seedTenant } from './services.js';
import type { Target } from './load.js';

const TSX = ['--import', 'tsx'];

/** Every server gets the allocation sampler (bench/alloc-sampler.mjs), inert until the allocation phase signals it. */
function samplerEnv(ctx: StartContext): NodeJS.ProcessEnv {
  const preload = `--import=${new URL('./alloc-sampler.mjs', import.meta.url).href}`;
  return { NODE_OPTIONS: preload, BENCH_ALLOC_DIR: ctx.logDir };
}
const SIM_KEY = 'sk-sim-openai';
const CHAT = '/openai/v1/chat/completions';

export interface Running {
  target: Target;
  proc: Spawned;
}

export interface StartContext {
  logDir: string;
  /** Core(s) for servers; undefined when not pinning. */
  cpus: string | undefined;
}

export async function startSimulator(ctx: StartContext, tokens: number): Promise<Running & { base: string }> {
  const proc = await spawnServer({
    name: 'simulator',
    cmd: process.execPath,
    args: [...TSX, 'src/simulator/main.ts', '--port', '0', '--tokens', String(tokens)],
    env: { ...process.env, ...samplerEnv(ctx) },
    cpus: ctx.cpus,
    logDir: ctx.logDir,
    portFrom: /simulator on http:\/\/127\.0\.0\.1:(\d+)/,
  });
  const origin = `http://127.0.0.1:${proc.port}`;
  return { proc, base: origin, target: { name: 'direct', origin, path: CHAT, headers: { authorization: `Bearer ${SIM_KEY}` }, model: 'gpt-4o-mini' } };
}

/** Changes the simulator's timing between phases (PUT /__sim/settings). */
export async function simSettings(simOrigin: string, s: { latencyMs?: number; ttftMs?: number; chunkDelayMs?: number }): Promise<void> {
  const r = await fetch(`${simOrigin}/__sim/settings`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(s) });
  if (!r.ok) throw new Error(`simulator settings: ${r.status} ${await r.text()}`);
}

export async function startProxy(ctx: StartContext, simOrigin: string): Promise<Running> {
  const proc = await spawnServer({
    name: 'proxy',
    cmd: process.execPath,
    args: [...TSX, 'bench/proxy.ts', '--port', '0', '--upstream', simOrigin],
    env: { ...process.env, ...samplerEnv(ctx) },
    cpus: ctx.cpus,
    logDir: ctx.logDir,
    portFrom: /listening on (\d+)/,
  });
  return { proc, target: { name: 'proxy', origin: `http://127.0.0.1:${proc.port}`, path: CHAT, headers: { authorization: `Bearer ${SIM_KEY}` }, model: 'gpt-4o-mini' } };
}

export interface TollgateOptions {
  simOrigin: string;
  databaseUrl: string;
  redisUrl: string;
  dataDir: string;
  /** Directory for a V8 CPU profile (written at graceful exit). */
  cpuProfDir?: string;
  /** Overrides for ablation runs (e.g. LOG_LEVEL=warn, or REDIS_URL= for the in-process limiter). */
  extraEnv?: Record<string, string>;
  /** Node command-line options for ablation runs, for V8 flags NODE_OPTIONS refuses (e.g. --min-semi-space-size=16). */
  nodeArgs?: string[];
  /** The build to run (default build/main.js of this checkout; bench/ab-probe.ts runs another commit's beside it). */
  entry?: string;
}

export async function startTollgate(ctx: StartContext, o: TollgateOptions): Promise<Running> {
  const adminToken = `tga_bench_${randomBytes(12).toString('hex')}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: o.databaseUrl,
    REDIS_URL: o.redisUrl,
    TOLLGATE_DATA_DIR: o.dataDir,
    TOLLGATE_ADMIN_TOKEN: adminToken,
    OPENAI_API_KEY: SIM_KEY,
    OPENAI_BASE_URL: `${o.simOrigin}/openai/v1`,
    LOG_LEVEL: 'info', // the production default: the per-request access log stays on
    ...samplerEnv(ctx),
    ...o.extraEnv,
  };
  // An ablation's NODE_OPTIONS come on top of the sampler's preload.
  if (o.extraEnv?.NODE_OPTIONS) env.NODE_OPTIONS = `${samplerEnv(ctx).NODE_OPTIONS} ${o.extraEnv.NODE_OPTIONS}`;
  const prof = o.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', o.cpuProfDir] : [];
  const proc = await spawnServer({
    name: 'tollgate',
    cmd: process.execPath,
    args: [...prof, ...(o.nodeArgs ?? []), o.entry ?? 'build/main.js'], // as `npm start` runs it (run.ts builds first)
    env,
    cpus: ctx.cpus,
    logDir: ctx.logDir,
    portFrom: /Tollgate listening on http:\/\/[^:]+:(\d+)/,
  });
  const origin = `http://127.0.0.1:${proc.port}`;
  const key = await seedTenant(origin, adminToken);
  return { proc, target: { name: 'tollgate', origin, path: '/v1/chat/completions', headers: { authorization: `Bearer ${key}` }, model: 'bench' } };
}

/** Portkey 1.15.2 through npx; null (and the reason) when it cannot be installed or started. */
export async function startPortkey(ctx: StartContext, simOrigin: string): Promise<Running | { skipped: string }> {
  const port = await freePort();
  try {
    const proc = await spawnServer({
      name: 'portkey',
      cmd: 'npx',
      args: ['-y', '@portkey-ai/gateway@1.15.2', `--port=${port}`, '--headless'],
      env: { ...process.env, NODE_ENV: 'production', ...samplerEnv(ctx) },
      cpus: ctx.cpus,
      logDir: ctx.logDir,
      port,
      timeoutMs: 240_000, // the first run downloads the package
    });
    return {
      proc,
      target: {
        name: 'portkey',
        origin: `http://127.0.0.1:${port}`,
        path: '/v1/chat/completions',
        headers: { authorization: `Bearer ${SIM_KEY}`, 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${simOrigin}/openai/v1` },
        model: 'gpt-4o-mini',
      },
    };
  } catch (e) {
    return { skipped: e instanceof Error ? e.message.split('\n')[0] : String(e) };
  }
}
