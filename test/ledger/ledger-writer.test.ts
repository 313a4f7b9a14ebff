// Ledger writer: batching by size and time, spooling when the sink fails, exactly-once replay, spills, shutdown.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { LedgerEvent } from '../../src/metering/ledger-event.js';
import { isPermanentLedgerError } from '../../src/metering/ledger-sink.js';
import { REJECTED_FILE, SPOOL_FILE } from '../../src/metering/ledger-spool.js';
import { encodeLedgerEvent } from './keyed-format.js';
import { createLedgerWriter, type LedgerWriter, type LedgerWriterOptions } from '../../src/metering/ledger-writer.js';
import { ledgerEvent } from '../store/fixtures.js';
import { createMemorySink, type MemorySink } from './memory-sink.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup(opts: Partial<LedgerWriterOptions> & { dir?: string } = {}): { w: LedgerWriter; sink: MemorySink; dir: string } {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'tollgate-ledger-'));
  const sink = (opts.sink as MemorySink | undefined) ?? createMemorySink();
  const w = createLedgerWriter({
    batchSize: 10,
    flushIntervalMs: 60_000,
    maxQueue: 1000,
    retryMinMs: 20,
    retryMaxMs: 100,
    ...opts,
    sink,
    spoolDir: dir,
  });
  cleanups.push(() => {
    // The unwritable-spool test points at a path under a file: nothing to remove there.
    if (!dir.includes('not-a-dir')) rmSync(dir, { recursive: true, force: true });
  });
  cleanups.push(() => w.close());
  return { w, sink, dir };
}

const events = (n: number, o: Partial<LedgerEvent> = {}) =>
  Array.from({ length: n }, (_, i) => ledgerEvent({ costPico: 100_000_000_000n + BigInt(i), ...o }));
/** Polling limit for background work; generous because loaded CI runners are slow (this is not a timing assertion). */
const eventually = { timeout: 15_000, interval: 10 };
const spoolLines = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.startsWith('ledger-spool'))
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean));

describe('ledger writer', () => {
  it('writes full batches as soon as they fill, the rest on flush', async () => {
    const { w, sink } = setup();
    for (const e of events(25)) w.enqueue(e);
    await vi.waitFor(() => expect(sink.batches).toEqual([10, 10]), eventually);
    expect(w.stats()).toMatchObject({ queued: 5, written: 20, spooled: 0 });
    await w.flush();
    expect(sink.batches).toEqual([10, 10, 5]);
    expect(w.stats()).toMatchObject({ queued: 0, written: 25 });
  });

  it('writes a partial batch once the flush interval passes', async () => {
    const { w, sink } = setup({ batchSize: 100, flushIntervalMs: 30 });
    const evs = events(3);
    for (const e of evs) w.enqueue(e);
    expect(sink.batches).toEqual([]);
    await vi.waitFor(() => expect(sink.batches).toEqual([3]), eventually);
    expect([...sink.rows.keys()]).toEqual(evs.map((e) => e.requestId));
  });

  it('spools batches while the sink fails and replays each event exactly once when it is back', async () => {
    const stats: { queued: number; spooled: number }[] = [];
    const { w, sink, dir } = setup({ onStats: (s) => stats.push(s) });
    sink.mode = 'fail';
    const evs = events(30, { costPico: 2n ** 62n + 7n });
    for (const e of evs) w.enqueue(e);
    await w.flush();
    expect(w.stats()).toMatchObject({ queued: 0, spooled: 30, written: 0 });
    const lines = spoolLines(dir);
    expect(lines).toHaveLength(30);
    expect(lines[0]).toContain(`"costPico":"${2n ** 62n + 7n}"`);
    expect(stats.some((s) => s.spooled === 30)).toBe(true);

    sink.mode = 'ok';
    await w.flush();
    expect(w.stats()).toMatchObject({ queued: 0, spooled: 0, written: 30 });
    expect([...sink.accepted.values()].every((n) => n === 1)).toBe(true);
    expect(sink.rows.size).toBe(30);
    for (const e of evs) expect(sink.rows.get(e.requestId)).toEqual(e);
    expect(spoolLines(dir)).toEqual([]);
  });

  it('retries on its own timer after the backoff', async () => {
    const { w, sink } = setup({ flushIntervalMs: 20 });
    sink.mode = 'fail';
    for (const e of events(12)) w.enqueue(e);
    await vi.waitFor(() => expect(w.stats().spooled).toBe(12), eventually);
    sink.mode = 'ok';
    await vi.waitFor(() => expect(w.stats()).toMatchObject({ spooled: 0, written: 12 }), eventually);
    expect(sink.rows.size).toBe(12);
  });

  it('spills a full queue to the spool instead of growing', async () => {
    const { w, sink } = setup({ batchSize: 1000, maxQueue: 50 });
    let maxQueued = 0;
    for (const e of events(120)) {
      w.enqueue(e);
      maxQueued = Math.max(maxQueued, w.stats().queued);
    }
    expect(maxQueued).toBeLessThan(50);
    expect(w.stats().queued).toBe(20);
    await vi.waitFor(() => expect(w.stats().spooled).toBe(100), eventually);
    await w.flush();
    expect(sink.rows.size).toBe(120);
    expect(w.stats()).toMatchObject({ queued: 0, spooled: 0, written: 120 });
  });

  it('close() flushes; later events go to the spool and the next writer replays them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-ledger-'));
    const first = setup({ dir, batchSize: 100 });
    const evs = events(7);
    for (const e of evs) first.w.enqueue(e);
    await first.w.close();
    expect(first.sink.rows.size).toBe(7);
    const late = ledgerEvent();
    first.w.enqueue(late);
    expect(spoolLines(dir)).toHaveLength(1);

    const second = setup({ dir });
    // The row reaches the sink before the writer takes it off its spool count (after the insert resolves): wait for both.
    await vi.waitFor(() => {
      expect(second.sink.rows.has(late.requestId)).toBe(true);
      expect(second.w.stats().spooled).toBe(0);
    }, eventually);
    expect(second.sink.rows.get(late.requestId)).toEqual(late);
  });

  it('replays a leftover spool at start and sets aside a line torn by a crash', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-ledger-'));
    const evs = events(23);
    writeFileSync(join(dir, SPOOL_FILE), `${evs.map(encodeLedgerEvent).join('\n')}\n{"requestId":"req_torn","tena`);
    const { w, sink } = setup({ dir });
    await vi.waitFor(() => expect(sink.rows.size).toBe(23), eventually);
    await w.flush();
    expect(w.stats().spooled).toBe(0);
    expect(readFileSync(join(dir, REJECTED_FILE), 'utf8')).toContain('req_torn');
    expect(spoolLines(dir)).toEqual([]);
  });

  it('survives a failure in the middle of a replay without losing or duplicating rows', async () => {
    const { w, sink } = setup();
    sink.mode = 'fail';
    const evs = events(35);
    for (const e of evs) w.enqueue(e);
    await w.flush();
    expect(w.stats().spooled).toBe(35);
    // Back, but it dies again after the first replayed batch.
    sink.mode = 'ok';
    let writes = 0;
    sink.before = () => {
      writes += 1;
      if (writes === 2) throw new Error('connection terminated');
    };
    await w.flush();
    expect(sink.rows.size).toBe(10);
    expect(w.stats().spooled).toBe(35);
    sink.before = undefined;
    await w.flush();
    expect(sink.rows.size).toBe(35);
    expect(w.stats()).toMatchObject({ spooled: 0, queued: 0 });
  });

  it('sets aside an event the database refuses for good and writes the rest', async () => {
    const { w, sink, dir } = setup({ isPermanentError: isPermanentLedgerError });
    sink.readable = (line) => `for a person: ${line}`;
    const evs = events(10);
    const poison = evs[6].requestId;
    sink.before = (batch) => {
      if (batch.some((e) => e.requestId === poison)) {
        throw Object.assign(new Error('Failed query'), { cause: { code: '22003', message: 'numeric field overflow' } });
      }
    };
    for (const e of evs) w.enqueue(e);
    await w.flush();
    expect(sink.rows.size).toBe(9);
    expect(sink.rows.has(poison)).toBe(false);
    expect(readFileSync(join(dir, REJECTED_FILE), 'utf8')).toBe(`for a person: ${encodeLedgerEvent(evs[6])}\n`);
    expect(w.stats()).toMatchObject({ spooled: 0, written: 9 });
  });

  it('keeps events in memory when neither the sink nor the spool works, and writes them once the sink is back', async () => {
    const base = mkdtempSync(join(tmpdir(), 'tollgate-ledger-'));
    cleanups.push(() => rmSync(base, { recursive: true, force: true }));
    writeFileSync(join(base, 'not-a-dir'), '');
    const errors: string[] = [];
    const logger = { warn: () => {}, info: () => {}, error: (_o: object, m?: string) => void errors.push(m ?? '') };
    const { w, sink } = setup({ dir: join(base, 'not-a-dir', 'spool'), logger });
    sink.mode = 'fail';
    const evs = events(15);
    for (const e of evs) w.enqueue(e);
    await w.flush();
    expect(w.stats()).toMatchObject({ queued: 15, spooled: 0, written: 0 });
    expect(errors.some((m) => m.includes('spool append failed'))).toBe(true);
    sink.mode = 'ok';
    await w.flush();
    expect(sink.rows.size).toBe(15);
  });

  it('encodes each event when it is enqueued, not at write; an event that cannot be encoded is logged, the rest written', async () => {
    const errors: { requestId?: string; msg?: string }[] = [];
    const logger = { warn: () => {}, info: () => {}, error: (o: { requestId?: string }, msg?: string) => void errors.push({ requestId: o.requestId, msg }) };
    const sink = createMemorySink();
    const encode = sink.encode;
    const { w } = setup({ sink, logger });
    const evs = events(3);
    for (const e of evs) w.enqueue(e);
    // Below the batch size: nothing written yet, every event already encoded.
    expect(sink.batches).toEqual([]);
    expect(sink.encoded).toBe(3);
    expect(w.stats().queued).toBe(3);
    const broken = events(1)[0];
    sink.encode = (ev) => {
      if (ev === broken) throw new Error('cannot serialise');
      return encode(ev);
    };
    const more = events(2);
    w.enqueue(more[0]);
    w.enqueue(broken);
    w.enqueue(more[1]);
    await w.flush();
    expect(sink.batches).toEqual([5]);
    for (const e of [...evs, ...more]) expect(sink.rows.get(e.requestId)).toEqual(e);
    expect(errors).toEqual([{ requestId: broken.requestId, msg: 'ledger enqueue failed' }]);
  });

  it('spools the lines the sink makes, and replays each through its decode', async () => {
    const { w, sink, dir } = setup();
    const decoded: string[] = [];
    const decode = sink.decode;
    sink.decode = (line) => {
      decoded.push(line);
      return decode(line);
    };
    sink.mode = 'fail';
    const evs = events(4);
    for (const e of evs) w.enqueue(e);
    await w.flush();
    expect(spoolLines(dir)).toEqual(evs.map(encodeLedgerEvent));
    sink.mode = 'ok';
    await w.flush();
    expect(decoded).toEqual(evs.map(encodeLedgerEvent));
    expect([...sink.rows.keys()]).toEqual(evs.map((e) => e.requestId));
  });

  it('treats a write that hangs as failed after the timeout', async () => {
    const sink = createMemorySink();
    let hang = true;
    const hanging = { ...sink, write: (lines: readonly string[]) => (hang ? new Promise<void>(() => {}) : sink.write(lines)) };
    const { w } = setup({ sink: hanging as MemorySink, writeTimeoutMs: 50 });
    for (const e of events(4)) w.enqueue(e);
    await w.flush();
    expect(w.stats().spooled).toBe(4);
    hang = false;
    await w.flush();
    expect(sink.rows.size).toBe(4);
  });
});
