// Imported first by main.ts, before the gateway's modules load: two V8 heap settings and a collection when the process
// goes quiet, for RSS (docs/performance.md).
//
// 1. The old generation's growth between major collections.
// Under load about 10 KB per request is promoted to the old generation (docs/performance.md). V8 starts the next
// major collection when the old generation reaches its live size times a growing factor that it picks from its own
// marking speed against the promotion rate; on a busy core that factor reaches 3–4, so the heap swings from ~30 MB
// live to 100–120 MB before each collection, and RSS under the bench's load peaked at 200–210 MB. A fixed factor of
// 1.5 keeps the swing to ~45–55 MB: RSS under that load ~140 MB, with 4× as many major collections (mostly concurrent
// marking; the CPU per request measured no different). Set at run time because `npm start` runs plain
// `node build/main.js` and NODE_OPTIONS does not accept V8 heap flags; V8 reads this one each time it computes a limit.
// An operator's own `node --heap-growing-percent=N build/main.js` wins.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export const HEAP_GROWING_PERCENT = 50;

const given = (flag: string) => process.execArgv.some((a) => new RegExp(`^--${flag.replaceAll('-', '[-_]')}(=|$)`).test(a));
if (!given('heap-growing-percent')) setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);

// 2. The young generation during start-up: loading ~350 modules, the migrations and the config keep nearly everything
// they allocate, and V8 reads that survival rate as a reason to double the young generation after each scavenge, to
// its 16 MB semi-spaces (~30 MB resident) before the first request, where it stayed until V8's memory reducer ran
// (~20 s later, only on a gateway that stays idle). Held at its initial size until `startupDone()` (server.ts calls it
// once listening): idle RSS after start ~106 → ~84 MB, start-up time the same within noise; the load that follows
// grows it again as V8 sees fit. An operator's own --semi-space-growth-factor wins.
const holdYoung = !given('semi-space-growth-factor');
if (holdYoung) setFlagsFromString('--semi-space-growth-factor=1');

/** Start-up is over (the server listens): V8's own young-generation growth again (its default factor, 2). */
export function startupDone(): void {
  if (holdYoung) setFlagsFromString('--semi-space-growth-factor=2');
}

// 3. Back near idle after a burst. Under load V8 grows the young generation and the old generation's limit, and gives
// the memory back only when its memory reducer runs, which waits for a mark-compact after the load and otherwise for
// its two-minute watchdog: RSS stayed at ~150 MB (1.8× idle) for the minute after the bench's load in one run of
// three (bench/RESULTS.md). A full collection once the process has been quiet for a while releases it (~150 → ~105
// MB at once, ~93 when V8's reducer follows). Decided from the process's own CPU time every IDLE_CHECK_MS, nothing per
// request: a busy interval (≥ BUSY_SHARE of a core) and then QUIET_INTERVALS quiet ones in a row (< QUIET_SHARE each)
// collect once. Busy is any real traffic, 5% of a core (an idle gateway spends ~0.5%): at 20%, traffic between 5 and
// 20% (the bench's streams and fixed rates) did not arm it once an earlier quiet spell had collected, and its garbage
// waited for V8's reducer (a probe: collected at the 35-40 s check now, by the reducer at ~50 s before). Not sooner:
// the first seconds of load after a forced collection cost ~16% more CPU per request (bench rounds after an 8 s pause,
// 0.258 against 0.222 ms), so a gateway with short pauses between bursts must not pay it each time; after 30 s of quiet
// it is what the reducer would do anyway.

export const IDLE_CHECK_MS = 5000;
const BUSY_SHARE = 0.05;
const QUIET_SHARE = 0.02;
const QUIET_INTERVALS = 6;

/** Busy → quiet transitions, from the process's CPU milliseconds read at each check. */
export class QuietAfterBusy {
  private last: number;
  private busy = false;
  private quiet = 0;
  constructor(
    cpuMs: number,
    private readonly everyMs: number,
    private readonly quietIntervals = QUIET_INTERVALS,
  ) {
    this.last = cpuMs;
  }

  /** true once when a busy interval (≥ BUSY_SHARE) is followed by `quietIntervals` in a row under QUIET_SHARE. */
  tick(cpuMs: number): boolean {
    const share = (cpuMs - this.last) / this.everyMs;
    this.last = cpuMs;
    if (share >= BUSY_SHARE) {
      this.busy = true;
      this.quiet = 0;
    } else if (share < QUIET_SHARE) {
      if (this.busy && ++this.quiet >= this.quietIntervals) {
        this.busy = false;
        this.quiet = 0;
        return true;
      }
    } else this.quiet = 0;
    return false;
  }
}

/** V8's gc(): an operator's --expose-gc, or exposed now (V8 reads the flag when a context is created). */
export function exposedGc(): (() => void) | null {
  const own = (globalThis as { gc?: unknown }).gc;
  if (typeof own === 'function') return own as () => void;
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}

const processCpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Starts the quiet-time collection (server.ts, once listening); returns its stop. */
export function startIdleCollector(o: { everyMs?: number; quietIntervals?: number; cpuMs?: () => number; collect?: (() => void) | null } = {}): () => void {
  const everyMs = o.everyMs ?? IDLE_CHECK_MS;
  const cpuMs = o.cpuMs ?? processCpuMs;
  const collect = o.collect === undefined ? exposedGc() : o.collect;
  if (!collect) return () => {};
  const watch = new QuietAfterBusy(cpuMs(), everyMs, o.quietIntervals);
  const timer = setInterval(() => {
    if (watch.tick(cpuMs())) collect();
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
