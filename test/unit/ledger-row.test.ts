// src/store/queries.ts: a ledger row is an array whose places the INSERT reads by index (j->>i), so each place must
// hold the field of the column at that index. Every field gets a value no other field has: a swap shows. Rows are
// also the ledger spool's lines: read back, in this format or the keyed one spool files held before.
import { describe, expect, it } from 'vitest';
import type { LedgerEvent } from '../../src/metering/ledger-event.js';
import { createStoreLedgerSink } from '../../src/metering/ledger-sink.js';
import { encodeLedgerEvent } from '../ledger/keyed-format.js';
import { ledgerColumns, ledgerInsertText, ledgerRow, ledgerRowFromLine, ledgerRowJson, ledgerRowReadable, ledgerRowRequestId } from '../../src/store/queries.js';

const event: LedgerEvent = {
  requestId: 'req_1',
  tenantId: 'ten_2',
  keyId: 'key_3',
  endpoint: 'responses',
  route: 'cheap',
  provider: 'gemini',
  model: 'gemini-2.5-flash',
  stream: true,
  inputTokens: 101,
  cachedInputTokens: 102,
  outputTokens: 103,
  reasoningTokens: 104,
  usageSource: 'estimated',
  costPico: 12345678901234567890n,
  baselineCostPico: 22345678901234567890n,
  savedResponseCachePico: 32345678901234567890n,
  savedPromptCachePico: 42345678901234567890n,
  savedOffPeakPico: 52345678901234567890n,
  priceVersion: 'prices-9',
  status: 207,
  outcome: 'aborted',
  errorCode: 'upstream_timeout',
  cacheHit: false,
  attempts: [{ provider: 'gemini', model: 'gemini-2.5-flash', status: 504, error: 'timeout', latencyMs: 105 }],
  latencyMs: 106,
  ttftMs: 107,
  startedAt: new Date('2026-12-07T12:34:56.789Z'),
};

describe('ledgerRow', () => {
  it('puts every field at the index of its column, money as exact decimal strings', () => {
    const row = ledgerRow(event);
    expect(row).toHaveLength(ledgerColumns.length);
    ledgerColumns.forEach(([field, column], i) => {
      const v = event[field];
      expect([column, row[i]]).toEqual([column, typeof v === 'bigint' ? v.toString() : v]);
    });
  });

  it('gives every field a value of its own here, so that the check above can fail', () => {
    const values = ledgerColumns.map(([field]) => JSON.stringify(event[field], (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)));
    expect(new Set(values).size).toBe(values.length);
  });

  it('is JSON text the insert reads back: each column in its place, the start time as ISO 8601, money as text', () => {
    const parsed = JSON.parse(ledgerRowJson(event)) as unknown[];
    expect(parsed).toHaveLength(ledgerColumns.length);
    ledgerColumns.forEach(([field, column], i) => {
      const v = event[field];
      const carried = typeof v === 'bigint' ? v.toString() : v instanceof Date ? v.toISOString() : v;
      expect([column, parsed[i]]).toEqual([column, carried]);
    });
  });

  it('takes an escaped NUL out of the text (Postgres text and jsonb cannot hold one)', () => {
    const row = ledgerRowJson({ ...event, errorCode: 'a\u0000b' });
    expect(row).not.toContain('\\u0000');
    expect((JSON.parse(row) as unknown[])[ledgerColumns.findIndex(([f]) => f === 'errorCode')]).toBe('ab');
  });
});

describe('a ledger row read back from a spool line', () => {
  const row = ledgerRowJson(event);

  it('is the row itself, and its request id is found', () => {
    expect(ledgerRowFromLine(row)).toBe(row);
    expect(ledgerRowRequestId(row)).toBe('req_1');
  });

  it("is made by the store's ledger sink from an event in the keyed format that spool files held before rows", () => {
    const sink = createStoreLedgerSink({ insertLedgerRows: async () => {} });
    expect(sink.decode(encodeLedgerEvent(event))).toBe(row);
    expect(sink.decode(row)).toBe(row);
    expect(() => sink.decode(encodeLedgerEvent(event).slice(0, 40))).toThrow();
    expect(() => sink.decode(row.slice(0, 40))).toThrow();
  });

  it('is refused when torn by a crash, or not a whole row', () => {
    expect(() => ledgerRowFromLine(row.slice(0, row.length - 5))).toThrow();
    expect(() => ledgerRowFromLine(encodeLedgerEvent(event))).toThrow('not a ledger row');
    expect(() => ledgerRowFromLine(JSON.stringify((JSON.parse(row) as unknown[]).slice(1)))).toThrow('not a ledger row');
    expect(() => ledgerRowFromLine('"req_1"')).toThrow('not a ledger row');
    const noStart = JSON.parse(row) as unknown[];
    noStart[ledgerColumns.findIndex(([f]) => f === 'startedAt')] = 'yesterday';
    expect(() => ledgerRowFromLine(JSON.stringify(noStart))).toThrow('not a ledger row');
  });

  it('reads as an object keyed by column in the rejected file', () => {
    const readable = JSON.parse(ledgerRowReadable(row)) as Record<string, unknown>;
    expect(Object.keys(readable)).toEqual(ledgerColumns.map(([, c]) => c));
    expect(readable).toMatchObject({ request_id: 'req_1', cost_pico: '12345678901234567890', started_at: '2026-12-07T12:34:56.789Z' });
  });
});

describe('the ledger INSERT text', () => {
  it('has one parameter per row, numbered in order, and reads the columns in their order', () => {
    const columns = ledgerColumns.map(([, c]) => c).join(', ');
    for (const n of [1, 2, 499, 1000]) {
      const text = ledgerInsertText(n);
      const params = [...text.matchAll(/\(\$(\d+)::jsonb\)/g)].map((m) => Number(m[1]));
      expect(params).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      expect(text.startsWith(`INSERT INTO usage_ledger (${columns}) SELECT j->>0, `)).toBe(true);
      expect(text.endsWith(') AS v(j) ON CONFLICT (request_id) DO NOTHING')).toBe(true);
    }
  });
});
