// Spend report formats: exact decimal strings and totals, RFC 4180 CSV with formula-safe text, FOCUS columns.
import { describe, expect, it } from 'vitest';
import { PICO_PER_USD } from '../../src/metering/money.js';
import { focusColumns, formatSpendCsv, formatSpendFocus, formatSpendJson } from '../../src/metering/spend-format.js';
import type { SpendQuery, SpendRow } from '../../src/store/interface.js';

/** Minimal RFC 4180 reader, written here so that the formatter is checked against an independent parser. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  if (field !== '' || row.length > 0) throw new Error('CSV does not end with CRLF');
  return rows;
}

/** "1.000000000001" → pico, independent of the code under test. */
const usdToPicoExact = (s: string): bigint => {
  const neg = s.startsWith('-');
  const [w, f = ''] = (neg ? s.slice(1) : s).split('.');
  const v = BigInt(w) * PICO_PER_USD + BigInt(f.padEnd(12, '0'));
  return neg ? -v : v;
};

function row(group: SpendRow['group'], costPico: bigint, baselineCostPico: bigint, extra: Partial<SpendRow> = {}): SpendRow {
  return {
    group,
    requests: 3,
    errors: 1,
    cacheHits: 1,
    inputTokens: 1000,
    cachedInputTokens: 200,
    outputTokens: 500,
    reasoningTokens: 100,
    costPico,
    baselineCostPico,
    savedResponseCachePico: 10n,
    savedPromptCachePico: 20n,
    savedOffPeakPico: 30n,
    ...extra,
  };
}

const query: SpendQuery = {
  from: new Date('2026-10-30T06:00:00Z'),
  to: new Date('2026-11-02T00:00:00Z'),
  groupBy: ['day', 'tenant', 'provider', 'model'],
};
const rows: SpendRow[] = [
  row({ day: '2026-10-30', tenant: 'ten_a', provider: 'deepseek', model: 'deepseek-flash' }, 100_000_000_001n, 900_000_000_000n),
  row({ day: '2026-10-31', tenant: 'ten_b', provider: 'openai', model: 'gpt-4o' }, 2n ** 64n + 1n, 2n ** 64n),
  row({ day: '2026-11-01', tenant: 'ten_a' }, 0n, 0n, { requests: 1, outputTokens: 0, inputTokens: 0, cachedInputTokens: 0, reasoningTokens: 0 }),
];

describe('formatSpendJson', () => {
  it('prints exact money and totals, with savings by reason and the unexplained rest', () => {
    const r = formatSpendJson(rows, query);
    expect(r).toMatchObject({ object: 'spend_report', currency: 'USD', tenant: null, group_by: query.groupBy, from: '2026-10-30T06:00:00.000Z' });
    expect(r.rows[0]).toMatchObject({ day: '2026-10-30', tenant: 'ten_a', provider: 'deepseek', cost_usd: '0.100000000001', baseline_cost_usd: '0.900000000000', saved_usd: '0.799999999999' });
    expect(r.rows[1].saved_usd).toBe('-0.000000000001');
    expect(r.rows[2]).toMatchObject({ provider: null, model: null });
    const total = rows.reduce((s, x) => s + x.costPico, 0n);
    expect(usdToPicoExact(r.totals.cost_usd)).toBe(total);
    expect(r.totals.requests).toBe(7);
    const s = r.rows[0].savings;
    expect(usdToPicoExact(s.response_cache_usd) + usdToPicoExact(s.prompt_cache_usd) + usdToPicoExact(s.off_peak_usd) + usdToPicoExact(s.model_choice_usd)).toBe(
      usdToPicoExact(r.rows[0].saved_usd),
    );
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });
});

describe('formatSpendCsv', () => {
  it('writes one RFC 4180 line per group with exact amounts', () => {
    const lines = parseCsv(formatSpendCsv(rows, query));
    expect(lines[0].slice(0, 5)).toEqual(['day', 'tenant', 'provider', 'model', 'requests']);
    expect(lines).toHaveLength(4);
    const cost = lines[0].indexOf('cost_usd');
    expect(lines.slice(1).reduce((s, l) => s + usdToPicoExact(l[cost]), 0n)).toBe(rows.reduce((s, x) => s + x.costPico, 0n));
    expect(lines[3][2]).toBe('');
  });

  it('quotes awkward text and defuses spreadsheet formulas', () => {
    const nasty = [row({ tenant: 'a,"b"\r\nc', route: '=HYPERLINK("x")', key: ' padded ' }, 1n, 2n)];
    const text = formatSpendCsv(nasty);
    const lines = parseCsv(text);
    expect(lines[0].slice(0, 3)).toEqual(['tenant', 'key', 'route']);
    expect(lines[1].slice(0, 3)).toEqual(['a,"b"\r\nc', ' padded ', `'=HYPERLINK("x")`]);
    expect(lines[1][lines[0].indexOf('saved_usd')]).toBe('0.000000000001');
  });
});

describe('formatSpendFocus', () => {
  it('emits FOCUS columns with charge periods clipped to the query and exact billed cost', () => {
    const names = new Map([['ten_a', 'Acme, Inc.']]);
    const lines = parseCsv(formatSpendFocus(rows, query, names));
    const header = lines[0];
    expect(header).toEqual([...focusColumns]);
    for (const c of ['BilledCost', 'EffectiveCost', 'ListCost', 'BillingCurrency', 'ChargePeriodStart', 'ChargePeriodEnd', 'ChargeCategory', 'ServiceName', 'ServiceCategory', 'ProviderName', 'PublisherName', 'ResourceId', 'ResourceName', 'SubAccountId', 'SubAccountName', 'ConsumedQuantity', 'ConsumedUnit']) {
      expect(header).toContain(c);
    }
    const at = (l: string[], c: string) => l[header.indexOf(c)];
    const [first, second] = [lines[1], lines[2]];
    expect(at(first, 'ChargePeriodStart')).toBe('2026-10-30T06:00:00Z');
    expect(at(first, 'ChargePeriodEnd')).toBe('2026-10-31T00:00:00Z');
    expect(at(first, 'BillingPeriodStart')).toBe('2026-10-01T00:00:00Z');
    expect(at(first, 'BillingPeriodEnd')).toBe('2026-11-01T00:00:00Z');
    expect(at(first, 'SubAccountName')).toBe('Acme, Inc.');
    expect(at(first, 'ProviderName')).toBe('DeepSeek');
    expect(at(first, 'ResourceId')).toBe('deepseek-flash');
    expect(at(first, 'ConsumedQuantity')).toBe('1500');
    expect(at(first, 'ConsumedUnit')).toBe('Tokens');
    expect(at(first, 'BillingCurrency')).toBe('USD');
    expect(at(first, 'ChargeCategory')).toBe('Usage');
    expect(at(second, 'ServiceName')).toBe('OpenAI API');
    expect(at(second, 'SubAccountName')).toBe('');
    expect(lines.slice(1).reduce((s, l) => s + usdToPicoExact(at(l, 'BilledCost')), 0n)).toBe(rows.reduce((s, x) => s + x.costPico, 0n));
    expect(lines.slice(1).every((l) => at(l, 'EffectiveCost') === at(l, 'BilledCost'))).toBe(true);
  });

  it('spans the whole query range when not grouped by day', () => {
    const lines = parseCsv(formatSpendFocus([row({ tenant: 'ten_a' }, 5n, 6n)], { ...query, groupBy: ['tenant'] }, new Map()));
    const h = lines[0];
    expect(lines[1][h.indexOf('ChargePeriodStart')]).toBe('2026-10-30T06:00:00Z');
    expect(lines[1][h.indexOf('ChargePeriodEnd')]).toBe('2026-11-02T00:00:00Z');
  });
});
