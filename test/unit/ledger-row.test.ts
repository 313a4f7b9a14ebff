// src/store/queries.ts: a ledger row is an array whose places the INSERT reads by index (j->>i), so each place must
// hold the field of the column at that index. Every field gets a value no other field has: a swap shows.
import { describe, expect, it } from 'vitest';
import type { LedgerEvent } from '../../src/metering/ledger-event.js';
import { ledgerColumns, ledgerRow, prepareLedgerRow } from '../../src/store/queries.js';

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

  it('is JSON text the insert reads back: the same values, in the same places', () => {
    const parsed = JSON.parse(prepareLedgerRow({ ...event, requestId: 'req_json' })) as unknown[];
    expect(parsed[0]).toBe('req_json');
    expect(parsed.slice(1)).toEqual(JSON.parse(JSON.stringify(ledgerRow(event))).slice(1));
  });
});
