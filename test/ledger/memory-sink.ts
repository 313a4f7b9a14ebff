// A ledger sink for writer tests: idempotent on requestId like the real table, switchable to fail or hang.
import type { LedgerEvent } from '../../src/metering/ledger-event.js';
import type { LedgerSink } from '../../src/metering/ledger-writer.js';

export interface MemorySink extends LedgerSink {
  /** Every event the sink accepted, by request id (a repeat overwrites, as ON CONFLICT would ignore it). */
  rows: Map<string, LedgerEvent>;
  /** Sizes of the batches that succeeded. */
  batches: number[];
  /** How many times each request id was part of a successful write. */
  accepted: Map<string, number>;
  mode: 'ok' | 'fail';
  /** Called before each write; throw to fail that batch. */
  before?: (events: readonly LedgerEvent[]) => void;
}

export function createMemorySink(): MemorySink {
  const sink: MemorySink = {
    rows: new Map(),
    batches: [],
    accepted: new Map(),
    mode: 'ok',
    async write(events) {
      await new Promise((r) => setImmediate(r));
      if (sink.mode === 'fail') throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      sink.before?.(events);
      sink.batches.push(events.length);
      for (const e of events) {
        sink.rows.set(e.requestId, e);
        sink.accepted.set(e.requestId, (sink.accepted.get(e.requestId) ?? 0) + 1);
      }
    },
  };
  return sink;
}
