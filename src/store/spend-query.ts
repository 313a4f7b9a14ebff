// Spend report query: exact sums grouped by any of day/tenant/key/provider/model/route/endpoint, from the daily
// rollup when the range is whole UTC days, from the raw ledger otherwise.
import { and, eq, gte, lt, sql, type SQL } from 'drizzle-orm';
import type { Db } from './db.js';
import type { SpendGroupKey, SpendQuery, SpendRow } from './interface.js';
import { usageDaily, usageLedger } from './schema.js';

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
const moneyKeys = new Set<MetricKey>([
  'costPico',
  'baselineCostPico',
  'savedResponseCachePico',
  'savedPromptCachePico',
  'savedOffPeakPico',
]);

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

/** True when both ends of the range are UTC midnights, so whole rollup days answer it exactly. */
export function isWholeDayRange(q: Pick<SpendQuery, 'from' | 'to'>): boolean {
  return q.from.getTime() % DAY_MS === 0 && q.to.getTime() % DAY_MS === 0;
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

export function createSpendQuery(db: Db): (q: SpendQuery) => Promise<SpendRow[]> {
  return async (q) => {
    if (!(q.to.getTime() > q.from.getTime())) return [];
    const src = isWholeDayRange(q) ? rollupSource : ledgerSource;
    const groupBy = [...new Set(q.groupBy)];
    const fields: Record<string, SQL> = {};
    for (const k of groupBy) fields[`g_${k}`] = src.dims[k];
    for (const k of metricKeys) fields[k] = src.metrics[k];
    const dims = groupBy.map((k) => src.dims[k]);
    const base = db.select(fields).from(src.table).where(src.where(q));
    const rows: Record<string, unknown>[] = dims.length > 0 ? await base.groupBy(...dims).orderBy(...dims) : await base;
    // Without grouping, an empty range still yields one all-zero row from the aggregate; report no rows instead.
    return rows.map((r) => toSpendRow(r, groupBy)).filter((r) => r.requests > 0);
  };
}
