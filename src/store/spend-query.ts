// Spend report query: exact sums grouped by any of day/tenant/key/provider/model/route/endpoint; whole UTC days are
// read from the daily rollup, the partial days at the ends of the range from the raw ledger, and the parts merged.
import { and, eq, gte, lt, sql, type SQL } from 'drizzle-orm';
import type { Db } from './db.js';
import type { SpendGroupKey, SpendQuery, SpendRow } from './interface.js';
import { usageDaily, usageLedger } from './schema.js';
import { moneyFields } from '../metering/ledger-event.js';

const DAY_MS = 86_400_000;

type Source = {
  table: typeof usageLedger | typeof usageDaily;
  dims: Record<SpendGroupKey, SQL>;
  metrics: Record<MetricKey, SQL>;
  where: (q: SpendQuery) => SQL | undefined;
};

const metricKeys = [
  'requests',
  'errors',
  'cacheHits',
  'inputTokens',
  'cachedInputTokens',
  'outputTokens',
  'reasoningTokens',
  'costPico',
  'baselineCostPico',
  'savedResponseCachePico',
  'savedPromptCachePico',
  'savedOffPeakPico',
] as const;
type MetricKey = (typeof metricKeys)[number];
const moneyKeys = new Set<MetricKey>(moneyFields);

/** Every sum leaves Postgres as text so that no value passes through a JS number on the way to BigInt. */
const sumText = (col: SQL | typeof usageLedger.costPico) => sql`coalesce(sum(${col}), 0)::text`;

const L = usageLedger;
const ledgerSource: Source = {
  table: L,
  dims: {
    day: sql`to_char(${L.startedAt} AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
    tenant: sql`${L.tenantId}`,
    key: sql`${L.keyId}`,
    provider: sql`${L.provider}`,
    model: sql`${L.model}`,
    route: sql`${L.route}`,
    endpoint: sql`${L.endpoint}`,
  },
  metrics: {
    requests: sql`count(*)::text`,
    errors: sql`(count(*) FILTER (WHERE ${L.outcome} IN ('error', 'rejected')))::text`,
    cacheHits: sql`(count(*) FILTER (WHERE ${L.cacheHit}))::text`,
    inputTokens: sumText(sql`${L.inputTokens}`),
    cachedInputTokens: sumText(sql`${L.cachedInputTokens}`),
    outputTokens: sumText(sql`${L.outputTokens}`),
    reasoningTokens: sumText(sql`${L.reasoningTokens}`),
    costPico: sumText(sql`${L.costPico}`),
    baselineCostPico: sumText(sql`${L.baselineCostPico}`),
    savedResponseCachePico: sumText(sql`${L.savedResponseCachePico}`),
    savedPromptCachePico: sumText(sql`${L.savedPromptCachePico}`),
    savedOffPeakPico: sumText(sql`${L.savedOffPeakPico}`),
  },
  where: (q) =>
    and(gte(L.startedAt, q.from), lt(L.startedAt, q.to), q.tenantId ? eq(L.tenantId, q.tenantId) : undefined),
};

const D = usageDaily;
const isoDay = (d: Date) => d.toISOString().slice(0, 10);
const rollupSource: Source = {
  table: D,
  dims: {
    day: sql`to_char(${D.day}, 'YYYY-MM-DD')`,
    tenant: sql`${D.tenantId}`,
    // The rollup stores absent dimensions as '' (they are part of its primary key).
    key: sql`nullif(${D.keyId}, '')`,
    provider: sql`nullif(${D.provider}, '')`,
    model: sql`nullif(${D.model}, '')`,
    route: sql`nullif(${D.route}, '')`,
    endpoint: sql`${D.endpoint}`,
  },
  metrics: {
    requests: sumText(sql`${D.requests}`),
    errors: sumText(sql`${D.errors}`),
    cacheHits: sumText(sql`${D.cacheHits}`),
    inputTokens: sumText(sql`${D.inputTokens}`),
    cachedInputTokens: sumText(sql`${D.cachedInputTokens}`),
    outputTokens: sumText(sql`${D.outputTokens}`),
    reasoningTokens: sumText(sql`${D.reasoningTokens}`),
    costPico: sumText(sql`${D.costPico}`),
    baselineCostPico: sumText(sql`${D.baselineCostPico}`),
    savedResponseCachePico: sumText(sql`${D.savedResponseCachePico}`),
    savedPromptCachePico: sumText(sql`${D.savedPromptCachePico}`),
    savedOffPeakPico: sumText(sql`${D.savedOffPeakPico}`),
  },
  where: (q) =>
    and(gte(D.day, isoDay(q.from)), lt(D.day, isoDay(q.to)), q.tenantId ? eq(D.tenantId, q.tenantId) : undefined),
};

/** The whole UTC days inside a range, or null when it holds none: [first midnight ≥ from, last midnight ≤ to). */
export function wholeDays(q: Pick<SpendQuery, 'from' | 'to'>): { from: Date; to: Date } | null {
  const first = Math.ceil(q.from.getTime() / DAY_MS) * DAY_MS;
  const last = Math.floor(q.to.getTime() / DAY_MS) * DAY_MS;
  return first < last ? { from: new Date(first), to: new Date(last) } : null;
}

function toSpendRow(raw: Record<string, unknown>, groupBy: readonly SpendGroupKey[]): SpendRow {
  const group: Partial<Record<SpendGroupKey, string>> = {};
  for (const k of groupBy) {
    const v = raw[`g_${k}`];
    // An absent dimension (no key, no route, rejected before routing) is left out of the group.
    if (typeof v === 'string') group[k] = v;
  }
  const text = (k: MetricKey) => String(raw[k] ?? '0');
  const row = { group } as SpendRow;
  for (const k of metricKeys) {
    if (moneyKeys.has(k)) (row as unknown as Record<string, bigint>)[k] = BigInt(text(k));
    else (row as unknown as Record<string, number>)[k] = Number(text(k));
  }
  return row;
}

/** Adds b's sums into a (same group). */
function addInto(a: SpendRow, b: SpendRow): void {
  const ar = a as unknown as Record<MetricKey, number | bigint>;
  const br = b as unknown as Record<MetricKey, number | bigint>;
  for (const k of metricKeys) ar[k] = moneyKeys.has(k) ? (ar[k] as bigint) + (br[k] as bigint) : (ar[k] as number) + (br[k] as number);
}

/**
 * Order by the group values in code-unit order, absent values last: the same on every backend, whatever collation
 * the database was created with.
 */
function compareGroups(groupBy: readonly SpendGroupKey[]) {
  return (a: SpendRow, b: SpendRow): number => {
    for (const k of groupBy) {
      const x = a.group[k];
      const y = b.group[k];
      if (x === y) continue;
      if (x === undefined) return 1;
      if (y === undefined) return -1;
      return x < y ? -1 : 1;
    }
    return 0;
  };
}

export function createSpendQuery(db: Db): (q: SpendQuery) => Promise<SpendRow[]> {
  async function run(src: Source, q: SpendQuery, groupBy: SpendGroupKey[]): Promise<SpendRow[]> {
    const fields: Record<string, SQL> = {};
    for (const k of groupBy) fields[`g_${k}`] = src.dims[k];
    for (const k of metricKeys) fields[k] = src.metrics[k];
    const dims = groupBy.map((k) => src.dims[k]);
    const base = db.select(fields).from(src.table).where(src.where(q));
    const rows: Record<string, unknown>[] = dims.length > 0 ? await base.groupBy(...dims) : await base;
    // Without grouping, an empty range still yields one all-zero row from the aggregate; report no rows instead.
    return rows.map((r) => toSpendRow(r, groupBy)).filter((r) => r.requests > 0);
  }

  return async (q) => {
    if (!(q.to.getTime() > q.from.getTime())) return [];
    const groupBy = [...new Set(q.groupBy)];
    const days = wholeDays(q);
    // Whole days come from the rollup; the partial days at either end from the raw ledger.
    const parts = days
      ? [
          q.from < days.from ? run(ledgerSource, { ...q, to: days.from }, groupBy) : Promise.resolve([]),
          run(rollupSource, { ...q, ...days }, groupBy),
          days.to < q.to ? run(ledgerSource, { ...q, from: days.to }, groupBy) : Promise.resolve([]),
        ]
      : [run(ledgerSource, q, groupBy)];
    const merged = new Map<string, SpendRow>();
    for (const rows of await Promise.all(parts)) {
      for (const r of rows) {
        const key = JSON.stringify(groupBy.map((k) => r.group[k] ?? null));
        const cur = merged.get(key);
        if (cur) addInto(cur, r);
        else merged.set(key, r);
      }
    }
    return [...merged.values()].sort(compareGroups(groupBy));
  };
}
