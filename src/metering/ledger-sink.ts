// The ledger writer's sink backed by the Store, and which database errors retrying cannot cure.
import type { Store } from '../store/interface.js';
import { moneyFields, type LedgerEvent } from './ledger-event.js';
import { ledgerRowFromLine, ledgerRowJson, ledgerRowReadable, ledgerRowRequestId } from '../store/queries.js';
import type { LedgerSink } from './ledger-writer.js';

/**
 * Events travel as the rows the INSERT reads (a JSON array each): queued, spooled and written in that one form. A
 * spool written before rows holds keyed events (one JSON object a line): read back, each becomes its row.
 */
export function createStoreLedgerSink(store: Pick<Store, 'insertLedgerRows'>): LedgerSink {
  return {
    encode: ledgerRowJson,
    decode: (line) => (line.startsWith('{') ? ledgerRowJson(decodeLedgerEvent(line)) : ledgerRowFromLine(line)),
    write: (rows) => store.insertLedgerRows(rows),
    requestIdOf: ledgerRowRequestId,
    readable: ledgerRowReadable,
  };
}

/**
 * One event in the keyed format spool files held before rows (until 3977de1): the event's own fields as a JSON object,
 * money as decimal strings, the start time as ISO 8601. Throws on a line that is not one (e.g. torn by a crash).
 */
export function decodeLedgerEvent(line: string): LedgerEvent {
  const raw: unknown = JSON.parse(line);
  if (typeof raw !== 'object' || raw === null) throw new Error('not an object');
  const o = raw as Record<string, unknown>;
  if (typeof o.requestId !== 'string' || typeof o.tenantId !== 'string' || typeof o.startedAt !== 'string') {
    throw new Error('missing requestId, tenantId or startedAt');
  }
  const ev = { ...o, startedAt: new Date(o.startedAt) } as Record<string, unknown>;
  if (Number.isNaN((ev.startedAt as Date).getTime())) throw new Error('bad startedAt');
  for (const f of moneyFields) {
    if (typeof o[f] !== 'string' || !/^-?\d+$/.test(o[f])) throw new Error(`bad ${f}`);
    ev[f] = BigInt(o[f]);
  }
  return ev as unknown as LedgerEvent;
}

/**
 * True for Postgres data and integrity errors (SQLSTATE classes 22 and 23): the same rows would fail again, so the
 * writer isolates and sets them aside instead of retrying. Everything else (connection loss, timeouts, a missing
 * table during a deploy) is transient and retried, never dropped. Looks through drizzle's wrapping (`cause`).
 */
export function isPermanentLedgerError(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur && typeof cur === 'object' && depth < 5; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && /^2[23][0-9A-Z]{3}$/.test(code)) return true;
    cur = (cur as { cause?: unknown }).cause;
  }
  return false;
}
