// The access line written without pino's serialiser (src/logger.ts writeAccessLine, src/gateway/meter.ts accessFields)
// is the line pino's own `info(fields, 'request')` writes: the same JSON, one line, nothing below the logger's level.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { accessFields } from '../../src/gateway/meter.js';
import type { LedgerEvent } from '../../src/metering/ledger-event.js';
import { writeAccessLine } from '../../src/logger.js';

function capture(level: string) {
  const lines: string[] = [];
  const logger = pino({ level, base: undefined }, { write: (s: string) => void lines.push(s) });
  return { logger, lines };
}

const base: LedgerEvent = {
  requestId: 'req_0123456789abcdef0123456789abcdef',
  tenantId: 'ten_2Zk93kWon5uAegRoFxKjSA',
  keyId: 'key_PqZB3CQBhO1MU8w-ZEWb1g',
  endpoint: 'chat',
  route: 'bench',
  provider: 'openai',
  model: 'gpt-4o-mini',
  stream: false,
  inputTokens: 29,
  cachedInputTokens: 0,
  outputTokens: 32,
  reasoningTokens: 0,
  usageSource: 'reported',
  costPico: 23_550_000n,
  baselineCostPico: 0n,
  savedResponseCachePico: 0n,
  savedPromptCachePico: 0n,
  savedOffPeakPico: 0n,
  priceVersion: null,
  status: 200,
  outcome: 'ok',
  errorCode: null,
  cacheHit: false,
  attempts: [],
  latencyMs: 11,
  ttftMs: 10,
  startedAt: new Date('2026-12-07T00:00:00Z'),
};

/** A line with its time set to 0: the only member that may differ between two writes. */
const strip = (line: string) => line.replace(/"time":\d+/, '"time":0');

/** What meter() handed pino before (the fields, in this order). */
const pinoFields = (ev: LedgerEvent) => ({
  requestId: ev.requestId,
  tenant: ev.tenantId,
  key: ev.keyId,
  endpoint: ev.endpoint,
  route: ev.route,
  provider: ev.provider,
  model: ev.model,
  status: ev.status,
  outcome: ev.outcome,
  stream: ev.stream,
  tokens: { input: ev.inputTokens, cached: ev.cachedInputTokens, output: ev.outputTokens, reasoning: ev.reasoningTokens },
  usage: ev.usageSource,
  costPico: ev.costPico.toString(),
  attempts: ev.attempts.length,
  latencyMs: ev.latencyMs,
  ttftMs: ev.ttftMs,
});

const events: Array<[string, LedgerEvent]> = [
  ['a served request', base],
  ['a refusal with nothing known', { ...base, keyId: null, route: null, provider: null, model: null, status: 429, outcome: 'error', usageSource: 'none', costPico: 0n, ttftMs: null }],
  ['strings JSON must escape', { ...base, route: 'we"ird\\route\nwith ü and \u2028', model: 'm\u0000x' }],
  ['a count that is not a number', { ...base, outputTokens: Number.NaN, stream: true, attempts: [{} as LedgerEvent['attempts'][number], {} as LedgerEvent['attempts'][number]] }],
];

describe('the access line', () => {
  it.each(events)('is what pino writes: %s', (_name, ev) => {
    const ours = capture('info');
    writeAccessLine(ours.logger, accessFields(ev), 'request');
    const theirs = capture('info');
    theirs.logger.info(pinoFields(ev), 'request');
    expect(ours.lines).toHaveLength(1);
    const [line] = ours.lines;
    expect(line.indexOf('\n')).toBe(line.length - 1); // one line, whatever the strings hold
    expect(line).toMatch(/^\{"level":30,"time":\d+,/);
    expect(strip(line)).toBe(strip(theirs.lines[0])); // byte for byte, but the time
  });

  it("carries a child logger's bindings where pino puts them", () => {
    const ours = capture('info');
    writeAccessLine(ours.logger.child({ svc: 'gateway', shard: 2 }), accessFields(base), 'request');
    const theirs = capture('info');
    theirs.logger.child({ svc: 'gateway', shard: 2 }).info(pinoFields(base), 'request');
    expect(strip(ours.lines[0])).toBe(strip(theirs.lines[0])); // byte for byte, but the time
  });

  it('is not written below the logger level', () => {
    for (const level of ['warn', 'silent']) {
      const { logger, lines } = capture(level);
      writeAccessLine(logger, accessFields(base), 'request');
      expect(lines).toEqual([]);
    }
  });
});
