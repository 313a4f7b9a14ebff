// Spend report formats for the admin and tenant spend routes: JSON with exact decimal strings, CSV, and FinOps FOCUS CSV.
import type { SpendGroupKey, SpendQuery, SpendRow } from '../store/interface.js';
import { spendGroupKeys } from '../store/interface.js';
import { picoToUsd } from './money.js';

/** A spend row's sums without its group. */
type Totals = Omit<SpendRow, 'group'>;

export interface SpendAmountsJson {
  requests: number;
  errors: number;
  cache_hits: number;
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  /** Exact USD decimal strings (12 decimals: pico-USD). */
  cost_usd: string;
  baseline_cost_usd: string;
  /** baseline − cost; negative when the served models cost more than the baseline would have. */
  saved_usd: string;
  savings: {
    response_cache_usd: string;
    prompt_cache_usd: string;
    off_peak_usd: string;
    /** The part of saved_usd no named reason explains: mostly routing to a cheaper model than the baseline. */
    model_choice_usd: string;
    /**
     * Savings by routing: baseline − cost − response_cache − prompt_cache − off_peak (the same amount as
     * model_choice_usd, under the reason name the metrics use). The four reasons add up to saved_usd exactly; routing
     * is negative when the served models cost more than the baseline would have (docs/caching.md).
     */
    routing_usd: string;
  };
}

export type SpendRowJson = Partial<Record<SpendGroupKey, string | null>> & SpendAmountsJson;

export interface SpendReportJson {
  object: 'spend_report';
  from: string;
  to: string;
  tenant: string | null;
  group_by: SpendGroupKey[];
  currency: 'USD';
  rows: SpendRowJson[];
  totals: SpendAmountsJson;
}

const zeroTotals = (): Totals => ({
  requests: 0,
  errors: 0,
  cacheHits: 0,
  inputTokens: 0,
  cachedInputTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
  costPico: 0n,
  baselineCostPico: 0n,
  savedResponseCachePico: 0n,
  savedPromptCachePico: 0n,
  savedOffPeakPico: 0n,
});

export function sumSpendRows(rows: readonly SpendRow[]): Totals {
  const t = zeroTotals();
  for (const r of rows) {
    t.requests += r.requests;
    t.errors += r.errors;
    t.cacheHits += r.cacheHits;
    t.inputTokens += r.inputTokens;
    t.cachedInputTokens += r.cachedInputTokens;
    t.outputTokens += r.outputTokens;
    t.reasoningTokens += r.reasoningTokens;
    t.costPico += r.costPico;
    t.baselineCostPico += r.baselineCostPico;
    t.savedResponseCachePico += r.savedResponseCachePico;
    t.savedPromptCachePico += r.savedPromptCachePico;
    t.savedOffPeakPico += r.savedOffPeakPico;
  }
  return t;
}

function amounts(t: Totals): SpendAmountsJson {
  const saved = t.baselineCostPico - t.costPico;
  const named = t.savedResponseCachePico + t.savedPromptCachePico + t.savedOffPeakPico;
  return {
    requests: t.requests,
    errors: t.errors,
    cache_hits: t.cacheHits,
    input_tokens: t.inputTokens,
    cached_input_tokens: t.cachedInputTokens,
    output_tokens: t.outputTokens,
    reasoning_tokens: t.reasoningTokens,
    cost_usd: picoToUsd(t.costPico),
    baseline_cost_usd: picoToUsd(t.baselineCostPico),
    saved_usd: picoToUsd(saved),
    savings: {
      response_cache_usd: picoToUsd(t.savedResponseCachePico),
      prompt_cache_usd: picoToUsd(t.savedPromptCachePico),
      off_peak_usd: picoToUsd(t.savedOffPeakPico),
      model_choice_usd: picoToUsd(saved - named),
      routing_usd: picoToUsd(saved - named),
    },
  };
}

/** The JSON report: one entry per group (absent dimensions are null) and exact totals. */
export function formatSpendJson(rows: readonly SpendRow[], query: SpendQuery): SpendReportJson {
  const groupBy = [...new Set(query.groupBy)];
  return {
    object: 'spend_report',
    from: query.from.toISOString(),
    to: query.to.toISOString(),
    tenant: query.tenantId ?? null,
    group_by: groupBy,
    currency: 'USD',
    rows: rows.map((r) => {
      const dims: Partial<Record<SpendGroupKey, string | null>> = {};
      for (const k of groupBy) dims[k] = r.group[k] ?? null;
      return { ...dims, ...amounts(r) };
    }),
    totals: amounts(sumSpendRows(rows)),
  };
}

/** RFC 4180 field: quoted when it holds a comma, quote, CR/LF or edge spaces; quotes doubled. */
export function csvField(value: string | number | bigint | null | undefined): string {
  if (value === null || value === undefined) return '';
  const s = String(value);
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * A free-text field (names, ids): a leading = + - @ or tab would run as a formula in spreadsheet apps, so it is
 * prefixed with an apostrophe (OWASP CSV injection advice). Numbers never go through this.
 */
export function csvText(value: string | null | undefined): string {
  if (value === null || value === undefined) return '';
  return csvField(/^[=+\-@\t\r]/.test(value) ? `'${value}` : value);
}

const csvLine = (fields: readonly string[]) => `${fields.join(',')}\r\n`;

const amountColumns = [
  'requests',
  'errors',
  'cache_hits',
  'input_tokens',
  'cached_input_tokens',
  'output_tokens',
  'reasoning_tokens',
  'cost_usd',
  'baseline_cost_usd',
  'saved_usd',
  'saved_response_cache_usd',
  'saved_prompt_cache_usd',
  'saved_off_peak_usd',
  'saved_model_choice_usd',
] as const;

function amountFields(a: SpendAmountsJson): string[] {
  return [
    a.requests,
    a.errors,
    a.cache_hits,
    a.input_tokens,
    a.cached_input_tokens,
    a.output_tokens,
    a.reasoning_tokens,
    a.cost_usd,
    a.baseline_cost_usd,
    a.saved_usd,
    a.savings.response_cache_usd,
    a.savings.prompt_cache_usd,
    a.savings.off_peak_usd,
    a.savings.model_choice_usd,
  ].map(csvField);
}

/**
 * Plain CSV, one line per group. Group columns come from `query.groupBy` when given, else from the dimensions
 * present in the rows (in canonical order).
 */
export function formatSpendCsv(rows: readonly SpendRow[], query?: Pick<SpendQuery, 'groupBy'>): string {
  const dims = query
    ? [...new Set(query.groupBy)]
    : spendGroupKeys.filter((k) => rows.some((r) => r.group[k] !== undefined));
  let out = csvLine([...dims, ...amountColumns]);
  for (const r of rows) out += csvLine([...dims.map((k) => csvText(r.group[k])), ...amountFields(amounts(r))]);
  return out;
}

// FinOps FOCUS (1.2 column names). One row per group; a report grouped by day, tenant, provider and model gives the
// usual day × sub-account × service × resource grain. Tollgate dimensions and savings ride in x_ custom columns.
export const focusColumns = [
  'BilledCost',
  'BillingAccountId',
  'BillingAccountName',
  'BillingCurrency',
  'BillingPeriodEnd',
  'BillingPeriodStart',
  'ChargeCategory',
  'ChargeClass',
  'ChargeDescription',
  'ChargeFrequency',
  'ChargePeriodEnd',
  'ChargePeriodStart',
  'ConsumedQuantity',
  'ConsumedUnit',
  'ContractedCost',
  'EffectiveCost',
  'InvoiceIssuerName',
  'ListCost',
  'PricingCategory',
  'ProviderName',
  'PublisherName',
  'ResourceId',
  'ResourceName',
  'ResourceType',
  'ServiceCategory',
  'ServiceName',
  'ServiceSubcategory',
  'SubAccountId',
  'SubAccountName',
  'Tags',
  'x_BaselineCost',
  'x_SavedCost',
  'x_SavedResponseCache',
  'x_SavedPromptCache',
  'x_SavedOffPeak',
  'x_Requests',
  'x_Errors',
  'x_InputTokens',
  'x_CachedInputTokens',
  'x_OutputTokens',
  'x_ReasoningTokens',
  'x_KeyId',
  'x_Route',
  'x_Endpoint',
] as const;

const providerLabels: Record<string, { name: string; service: string }> = {
  openai: { name: 'OpenAI', service: 'OpenAI API' },
  deepseek: { name: 'DeepSeek', service: 'DeepSeek API' },
  gemini: { name: 'Google', service: 'Gemini API' },
};

const DAY_MS = 86_400_000;
const focusTime = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The charge period of a row: its UTC day clipped to the query range, or the whole range when not grouped by day. */
function chargePeriod(r: SpendRow, q: SpendQuery): { start: Date; end: Date } {
  const day = r.group.day;
  if (day === undefined) return { start: q.from, end: q.to };
  const dayStart = new Date(`${day}T00:00:00Z`).getTime();
  const start = Math.max(dayStart, q.from.getTime());
  const end = Math.min(dayStart + DAY_MS, q.to.getTime());
  return { start: new Date(start), end: new Date(end) };
}

/** Billing period: the calendar month (UTC) in which the charge period starts. */
function billingPeriod(start: Date): { start: Date; end: Date } {
  const y = start.getUTCFullYear();
  const m = start.getUTCMonth();
  return { start: new Date(Date.UTC(y, m, 1)), end: new Date(Date.UTC(y, m + 1, 1)) };
}

function focusRow(r: SpendRow, q: SpendQuery, tenantNames: ReadonlyMap<string, string>): string[] {
  const cp = chargePeriod(r, q);
  const bp = billingPeriod(cp.start);
  const provider = r.group.provider;
  const label = provider !== undefined ? providerLabels[provider] : undefined;
  const model = r.group.model;
  const tenant = r.group.tenant ?? q.tenantId;
  const cost = picoToUsd(r.costPico);
  const a = amounts(r);
  const text = [
    cost, // BilledCost
    'tollgate',
    'Tollgate gateway',
    'USD',
    focusTime(bp.end),
    focusTime(bp.start),
    'Usage',
    '', // ChargeClass: empty = not a correction
    `${r.inputTokens + r.outputTokens} tokens${model ? ` of ${model}` : ''}${label ? ` via ${label.service}` : ''}`,
    'Usage-Based',
    focusTime(cp.end),
    focusTime(cp.start),
    String(r.inputTokens + r.outputTokens),
    'Tokens',
    cost, // ContractedCost
    cost, // EffectiveCost: pay-as-you-go, no commitments to amortise
    label?.name ?? provider ?? '',
    cost, // ListCost: every price Tollgate applies (cached, off-peak) is a public list price
    'Standard',
    label?.name ?? provider ?? '',
    label?.name ?? provider ?? '',
    model ?? '',
    model ?? '',
    'Model',
    'AI and Machine Learning',
    label?.service ?? provider ?? '',
    'Generative AI',
    tenant ?? '',
    tenant !== undefined ? (tenantNames.get(tenant) ?? '') : '',
    '{}',
  ];
  const numbers = [
    a.baseline_cost_usd,
    a.saved_usd,
    a.savings.response_cache_usd,
    a.savings.prompt_cache_usd,
    a.savings.off_peak_usd,
    r.requests,
    r.errors,
    r.inputTokens,
    r.cachedInputTokens,
    r.outputTokens,
    r.reasoningTokens,
  ];
  const tail = [r.group.key, r.group.route, r.group.endpoint];
  return [...text.map((v) => csvText(v)), ...numbers.map(csvField), ...tail.map(csvText)];
}

/**
 * FOCUS-style CSV for finance tools. Costs are exact decimal strings. Group by at least day, tenant, provider and
 * model for a proper FOCUS grain; coarser groupings still produce valid rows spanning the query range.
 */
export function formatSpendFocus(
  rows: readonly SpendRow[],
  query: SpendQuery,
  tenantNames: ReadonlyMap<string, string>,
): string {
  let out = csvLine([...focusColumns]);
  for (const r of rows) out += csvLine(focusRow(r, query, tenantNames));
  return out;
}
