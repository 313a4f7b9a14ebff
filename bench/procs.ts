// Benchmark process helpers: spawn a server pinned to a core, wait until it listens, read its RSS, stop it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync, readdirSync, readlinkSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export interface Spawned {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** The pid that owns the listening socket (for npx wrappers: the real server, not npm). */
  serverPid: number;
  port: number;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface SpawnOptions {
  name: string;
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Run under `taskset -c CPUS` when taskset exists (e.g. "1"). */
  cpus?: string;
  logDir: string;
  /** The port the server will listen on (when known in advance). */
  port?: number;
  /** Else a regexp on its output whose first group is the port. */
  portFrom?: RegExp;
  timeoutMs?: number;
  cwd?: string;
}

let tasksetChecked: boolean | undefined;
export function hasTaskset(): boolean {
  if (tasksetChecked === undefined) tasksetChecked = spawnSync('taskset', ['-c', '0', 'true']).status === 0;
  return tasksetChecked;
}

/** Pins an already running process (all its threads) to the given cpus; false when taskset is missing. */
export function pinSelf(cpus: string): boolean {
  if (!hasTaskset()) return false;
  return spawnSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)]).status === 0;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Inodes of sockets listening on `port` (IPv4 and IPv6), read from /proc/net/tcp*. */
function listeningInodes(port: number): Set<string> {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const out = new Set<string>();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address is ip:port; state 0A is LISTEN; inode is column 9.
      if (cols.length > 9 && cols[1].endsWith(`:${hex}`) && cols[3] === '0A') out.add(cols[9]);
    }
  }
  return out;
}

/** The pid among `candidates` that holds a listening socket on `port`. */
function pidListeningOn(port: number, candidates: number[]): number | undefined {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return undefined;
  for (const pid of candidates) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1])) return pid;
      } catch {
        // the fd closed meanwhile
      }
    }
  }
  return undefined;
}

/** Descendants of a pid (itself included), from /proc/<pid>/task/<pid>/children. */
export function processTree(root: number): number[] {
  const out: number[] = [];
  const walk = (pid: number) => {
    out.push(pid);
    let kids = '';
    try {
      kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
    } catch {
      return;
    }
    for (const k of kids.trim().split(/\s+/)) if (k) walk(Number(k));
  };
  walk(root);
  return out;
}

/** Resident set size in MB (VmRSS), or NaN when the process is gone. */
export function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds (user + system, all threads) a process has used so far, from /proc/<pid>/stat; NaN when gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at ") "; utime and stime are fields 14 and 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

export async function spawnServer(o: SpawnOptions): Promise<Spawned> {
  const logFile = join(o.logDir, `${o.name}.log`);
  const fd = openSync(logFile, 'w');
  const pinned = o.cpus !== undefined && hasTaskset();
  const cmd = pinned ? 'taskset' : o.cmd;
  const args = pinned ? ['-c', String(o.cpus), o.cmd, ...o.args] : o.args;
  const child = spawn(cmd, args, { env: o.env ?? process.env, stdio: ['ignore', fd, fd], cwd: o.cwd, detached: true });
  closeSync(fd);
  let exited: string | undefined;
  child.once('exit', (code, sig) => {
    exited = `exited with ${code ?? sig}`;
  });
  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  let port = o.port;
  let serverPid: number | undefined;
  while (Date.now() < deadline) {
    if (exited) throw new Error(`${o.name} ${exited} before listening; log: ${logFile}\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
    if (port === undefined && o.portFrom) {
      const m = o.portFrom.exec(readFileSync(logFile, 'utf8'));
      if (m) port = Number(m[1]);
    }
    if (port !== undefined && child.pid !== undefined) {
      serverPid = pidListeningOn(port, processTree(child.pid));
      if (serverPid !== undefined) break;
    }
    await sleep(100);
  }
  if (port === undefined || serverPid === undefined || child.pid === undefined) {
    killTree(child);
    throw new Error(`${o.name} did not listen within ${o.timeoutMs ?? 60_000} ms; log: ${logFile}`);
  }
  const group = child.pid;
  return {
    name: o.name,
    child,
    logFile,
    serverPid,
    port,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const done = new Promise<void>((r) => child.once('exit', () => r()));
      try {
        process.kill(-group, signal); // the whole group: npx, npm and the server under it
      } catch {
        return;
      }
      const t = setTimeout(() => killTree(child), 15_000);
      await done;
      clearTimeout(t);
    },
  };
}

function killTree(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
