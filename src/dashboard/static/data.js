// Dashboard data helpers: exact money (BigInt pico-USD from the API's decimal strings), grouping, dates and forecasts.

const PICO = 1_000_000_000_000n;

/** "12.5" / "-0.000000000001" → pico-USD BigInt. Never goes through a float. */
export function toPico(usd) {
  const m = /^(-?)(\d+)(?:\.(\d{1,12}))?$/.exec(String(usd ?? '0').trim());
  if (!m) throw new Error(`not a USD amount: ${usd}`);
  const v = BigInt(m[2]) * PICO + BigInt((m[3] ?? '').padEnd(12, '0'));
  return m[1] === '-' ? -v : v;
}

function groupThousands(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Exact: every significant decimal kept (trailing zeros trimmed, at least 2), e.g. $1,234.5678. */
export function fmtExact(pico) {
  const neg = pico < 0n;
  const abs = neg ? -pico : pico;
  let frac = (abs % PICO).toString().padStart(12, '0').replace(/0+$/, '');
  if (frac.length < 2) frac = frac.padEnd(2, '0');
  return `${neg ? '−' : ''}$${groupThousands((abs / PICO).toString())}.${frac}`;
}

/** Rounded to cents (half away from zero), for estimates such as forecasts. */
export function fmtCents(pico) {
  const neg = pico < 0n;
  const abs = neg ? -pico : pico;
  const cents = (abs + PICO / 200n) / (PICO / 100n);
  return `${neg ? '−' : ''}$${groupThousands((cents / 100n).toString())}.${(cents % 100n).toString().padStart(2, '0')}`;
}

/** For charts only. */
export function toNumber(pico) {
  return Number(pico) / 1e12;
}

export function fmtInt(n) {
  return groupThousands(String(n));
}

export function fmtPct(part, whole) {
  if (!whole) return '—';
  return `${((Number(part) / Number(whole)) * 100).toFixed(1)}%`;
}

/** Ratio of two BigInts as a percentage with one decimal, computed exactly then rounded. */
export function fmtPctPico(part, whole) {
  if (whole === 0n) return '—';
  const tenths = (part * 1000n + whole / 2n) / whole;
  const sign = tenths < 0n ? '−' : '';
  const a = tenths < 0n ? -tenths : tenths;
  return `${sign}${a / 10n}.${a % 10n}%`;
}

function emptyTotals() {
  return { cost: 0n, baseline: 0n, saved: 0n, responseCache: 0n, promptCache: 0n, offPeak: 0n, modelChoice: 0n, requests: 0, errors: 0, cacheHits: 0, fallbacks: null, tokens: 0 };
}

function addRow(t, r) {
  t.cost += toPico(r.cost_usd);
  t.baseline += toPico(r.baseline_cost_usd);
  t.saved += toPico(r.saved_usd);
  const s = r.savings ?? {};
  t.responseCache += toPico(s.response_cache_usd ?? '0');
  t.promptCache += toPico(s.prompt_cache_usd ?? '0');
  t.offPeak += toPico(s.off_peak_usd ?? '0');
  t.modelChoice += toPico(s.model_choice_usd ?? '0');
  t.requests += r.requests ?? 0;
  t.errors += r.errors ?? 0;
  t.cacheHits += r.cache_hits ?? 0;
  // Fallback counts appear only if the spend API reports them; otherwise the dashboard says so instead of guessing.
  if (typeof r.fallbacks === 'number') t.fallbacks = (t.fallbacks ?? 0) + r.fallbacks;
  t.tokens += (r.input_tokens ?? 0) + (r.output_tokens ?? 0);
  return t;
}

/** Sums rows by the value of `keyOf(row)`, exactly. */
export function groupRows(rows, keyOf) {
  const out = new Map();
  for (const r of rows) {
    const k = keyOf(r) ?? '(none)';
    out.set(k, addRow(out.get(k) ?? emptyTotals(), r));
  }
  return out;
}

/** Totals of an API amounts object (the report's `totals`), in the same shape as groupRows values. */
export function totalsOf(amounts) {
  return addRow(emptyTotals(), amounts);
}

/** Groups sorted by spend, largest first. */
export function topByCost(groups) {
  return [...groups.entries()].sort((a, b) => (a[1].cost === b[1].cost ? 0 : a[1].cost < b[1].cost ? 1 : -1));
}

// ---- dates (UTC: the ledger groups days in UTC) ----

export const DAY_MS = 86_400_000;

export function isoDay(ms) {
  return new Date(ms).toISOString().slice(0, 10);
}

export function dayMs(day) {
  return Date.parse(`${day}T00:00:00Z`);
}

export function monthStart(ms) {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

export function nextMonthStart(ms) {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/** Every UTC day from `from` to `to` inclusive (YYYY-MM-DD strings). */
export function daysBetween(from, to) {
  const out = [];
  for (let t = dayMs(from); t <= dayMs(to); t += DAY_MS) out.push(isoDay(t));
  return out;
}

/** Date range of a preset, as inclusive YYYY-MM-DD days. */
export function presetRange(preset, nowMs) {
  const today = isoDay(nowMs);
  if (preset === '7d') return { from: isoDay(nowMs - 6 * DAY_MS), to: today };
  if (preset === '30d') return { from: isoDay(nowMs - 29 * DAY_MS), to: today };
  if (preset === 'last-month') {
    const start = monthStart(monthStart(nowMs) - 1);
    return { from: isoDay(start), to: isoDay(monthStart(nowMs) - DAY_MS) };
  }
  return { from: isoDay(monthStart(nowMs)), to: today };
}

/**
 * Month-end forecast, linear on month-to-date spend: spent × (month length / time elapsed), exact in pico-USD
 * (integer division at the end only).
 */
export function forecastMonthEnd(mtdPico, nowMs) {
  const start = monthStart(nowMs);
  const elapsed = BigInt(Math.max(1, nowMs - start));
  const length = BigInt(nextMonthStart(nowMs) - start);
  return (mtdPico * length) / elapsed;
}

/** Cumulative spend per day of the month so far, from rows grouped by day. */
export function cumulativeByDay(rows, nowMs) {
  const byDay = groupRows(rows, (r) => r.day);
  const days = daysBetween(isoDay(monthStart(nowMs)), isoDay(nowMs));
  let acc = 0n;
  return days.map((d) => {
    acc += byDay.get(d)?.cost ?? 0n;
    return { day: d, cumulative: acc };
  });
}
