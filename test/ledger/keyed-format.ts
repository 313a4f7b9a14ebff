// The keyed event format that ledger spool files held before rows (until 3977de1), written as that version wrote it:
// the event's own fields as one JSON object, money as decimal strings. Gateways now read it (decodeLedgerEvent in
// src/metering/ledger-sink.ts) and no longer write it; the writer tests' memory sink still uses it as its line.
import type { LedgerEvent } from '../../src/metering/ledger-event.js';

export function encodeLedgerEvent(ev: LedgerEvent): string {
  return JSON.stringify(ev, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}
