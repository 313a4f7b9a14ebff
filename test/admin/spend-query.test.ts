// Spend query parsing: defaults on whole UTC days, date-only bounds, group_by validation, tenant pinning.
import { describe, expect, it } from 'vitest';
import { parseSpendQuery } from '../../src/http/admin/spend.js';
import { GatewayError } from '../../src/errors.js';

const now = new Date('2026-11-20T12:34:56.789Z');

function fails(params: Record<string, string>, forced: string | null = null): GatewayError {
  try {
    parseSpendQuery(params, now, forced);
  } catch (e) {
    if (e instanceof GatewayError) return e;
    throw e;
  }
  throw new Error('expected a GatewayError');
}

describe('parseSpendQuery', () => {
  it('defaults to the 30 whole UTC days ending with today, grouped by day, as JSON', () => {
    const { query, format } = parseSpendQuery({}, now, null);
    expect(query).toEqual({ from: new Date('2026-10-22T00:00:00Z'), to: new Date('2026-11-21T00:00:00Z'), groupBy: ['day'] });
    expect(format).toBe('json');
  });

  it('reads a date-only `to` as through that day, and date-times as given', () => {
    expect(parseSpendQuery({ from: '2026-11-01', to: '2026-11-30' }, now, null).query).toMatchObject({
      from: new Date('2026-11-01T00:00:00Z'),
      to: new Date('2026-12-01T00:00:00Z'),
    });
    expect(parseSpendQuery({ from: '2026-11-01T06:00:00+02:00', to: '2026-11-02T00:00:00Z' }, now, null).query).toMatchObject({
      from: new Date('2026-11-01T04:00:00Z'),
      to: new Date('2026-11-02T00:00:00Z'),
    });
    expect(parseSpendQuery({ to: '2026-11-10T00:00:00Z' }, now, null).query.from).toEqual(new Date('2026-10-11T00:00:00Z'));
  });

  it('dedupes group_by and refuses unknown keys, bad dates and empty ranges, naming the parameter', () => {
    expect(parseSpendQuery({ group_by: 'model, day,model,,tenant' }, now, null).query.groupBy).toEqual(['model', 'day', 'tenant']);
    expect(fails({ group_by: 'day,colour' }).param).toBe('group_by');
    expect(fails({ from: '2026-13-45' }).param).toBe('from');
    expect(fails({ to: 'tomorrow' }).param).toBe('to');
    expect(fails({ from: '2026-11-02', to: '2026-11-01' }).param).toBe('from');
    expect(fails({ format: 'pdf' }).param).toBe('format');
  });

  it('pins a tenant report to its tenant: another tenant id is a 404, its own id or none is fine', () => {
    expect(parseSpendQuery({}, now, 'ten_a').query.tenantId).toBe('ten_a');
    expect(parseSpendQuery({ tenant: 'ten_a' }, now, 'ten_a').query.tenantId).toBe('ten_a');
    const e = fails({ tenant: 'ten_b' }, 'ten_a');
    expect(e.status).toBe(404);
    expect(parseSpendQuery({ tenant: 'ten_b' }, now, null).query.tenantId).toBe('ten_b');
  });
});
