// A ledger sink for writer tests: idempotent on requestId like the real table, switchable to fail or hang. Its lines are
// the keyed event format that spools held before rows (keyed-format.ts); the writer treats lines as opaque, whatever the sink makes them.
import type { LedgerEvent } from '../../src/metering/ledger-event.js';
import { decodeLedgerEvent } from '../../src/metering/ledger-sink.js';
import { encodeLedgerEvent } from './keyed-format.js';
import type { LedgerSink } from '../../src/metering/ledger-writer.js';

export interface MemorySink extends LedgerSink {
  /** Every event the sink accepted, by request id (a repeat overwrites, as ON CONFLICT would ignore it). */
  rows: Map<string, LedgerEvent>;
  /** Sizes of the batches that succeeded. */
  batches: number[];
  /** How many times each request id was part of a successful write. */
  accepted: Map<string, number>;
  /** How many events were encoded (at enqueue). */
  encoded: number;
  mode: 'ok' | 'fail';
  /** Called before each write with the batch decoded; throw to fail that batch. */
  before?: (events: readonly LedgerEvent[]) => void;
}

export function createMemorySink(): MemorySink {
  const sink: MemorySink = {
    rows: new Map(),
    batches: [],
    accepted: new Map(),
    encoded: 0,
    mode: 'ok',
    encode(ev) {
      sink.encoded += 1;
      return encodeLedgerEvent(ev);
    },
    decode: (line) => encodeLedgerEvent(decodeLedgerEvent(line)),
    requestIdOf: (line) => decodeLedgerEvent(line).requestId,
    async write(lines) {
      await new Promise((r) => setImmediate(r));
      if (sink.mode === 'fail') throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      const events = lines.map(decodeLedgerEvent);
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
