// Imported first by main.ts, for its side effect: caps V8's old-generation growth between major collections.
//
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

const given = process.execArgv.some((a) => /^--heap[-_]growing[-_]percent(=|$)/.test(a));
if (!given) setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
