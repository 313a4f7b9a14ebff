// Imported first by main.ts, before the gateway's modules load: two V8 heap settings, for RSS (docs/performance.md).
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
