// Batched, spooled, idempotent ledger writer: requests enqueue events synchronously; batches go to the database off
// the request path; when the database is unreachable, batches go to an append-only spool file and are replayed later.
//
// What a SIGKILL (or power loss) can lose, and nothing more:
//   - the in-memory queue: normally under `batchSize` events or `flushIntervalMs` of traffic, never more than
//     `maxQueue` events (a full queue spills to the spool);
//   - the batch being written at that instant, if the database had not committed it yet (at most `batchSize`);
//   - a spool append not yet fsynced (at most the events of that append).
// Everything acknowledged by the database or fsynced to the spool survives; a crash mid-replay only causes a
// re-replay, which the unique request id makes harmless. See docs/ledger.md.
import type { LedgerEvent } from './ledger-event.js';
import { createSpoolFiles } from './ledger-spool.js';

/**
 * Where batches go, and the form events take on the way. An event becomes one line of text when it is enqueued, on
 * its request's own turn (serialising a whole batch at flush time held the event loop for ~2 ms per 250 events, and
 * the requests in flight waited behind it); the queue, the spool files and write() all hold that line, not the event.
 * A queued event kept its object, attempts, Date and bigints alive for up to a flush interval, long enough to be
 * copied by the young-generation collector and then promoted to the old one; queuing the line alone took what is
 * promoted per request from 1.7-1.8 to 1.4 KB (bench/promotion-probe.ts; docs/performance.md, seventh session).
 */
export interface LedgerSink {
  /** The event as one line (no newline in it). Throwing loses the event (logged): it cannot be stored in any form. */
  encode(ev: LedgerEvent): string;
  /**
   * A line read back from a spool file as encode() would make it now, from this or an earlier format; throws on a
   * line that is neither (torn by a crash), which is then set aside.
   */
  decode(line: string): string;
  /** Writes a batch of lines in one statement; must be idempotent on the request id (a replayed event is ignored). */
  write(lines: readonly string[]): Promise<void>;
  /** The request id in a line, for logs. */
  requestIdOf(line: string): string;
  /** The line as a person reads it in the rejected file (default: as it is). */
  readable?(line: string): string;
}

export interface LedgerLogger {
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
}

export interface LedgerWriterStats {
  /** Events in memory, not yet written nor spooled. */
  queued: number;
  /** Events in spool files, waiting for replay. */
  spooled: number;
  /** Events the sink accepted since start (replays included). */
  written: number;
}

export interface LedgerWriterOptions {
  sink: LedgerSink;
  spoolDir: string;
  batchSize: number;
  flushIntervalMs: number;
  maxQueue: number;
  logger?: LedgerLogger;
  onStats?: (s: { queued: number; spooled: number }) => void;
  /** A failure that retrying cannot cure (bad data): the batch is split to isolate the event, which is set aside. */
  isPermanentError?: (e: unknown) => boolean;
  /** A write taking longer counts as failed and its batch is spooled (a late commit is harmless: replays are idempotent). Default 30 s. */
  writeTimeoutMs?: number;
  /** Backoff between attempts while the sink fails (defaults 500 ms doubling to 30 s). */
  retryMinMs?: number;
  retryMaxMs?: number;
  now?: () => number;
}

export interface LedgerWriter {
  /** Never blocks, never throws. */
  enqueue(ev: LedgerEvent): void;
  /** Writes (or, if the sink fails, spools) everything queued now, and retries the spool once regardless of backoff. */
  flush(): Promise<void>;
  /** Stops the timer and flushes; afterwards enqueue appends straight to the spool. */
  close(): Promise<void>;
  stats(): LedgerWriterStats;
}

const silent: LedgerLogger = { warn: () => {}, error: () => {}, info: () => {} };

/** A serial lane: tasks run one after another; a failing task is logged and does not stop the lane. */
function createLane(logger: LedgerLogger, what: string) {
  let tail: Promise<void> = Promise.resolve();
  return {
    run(task: () => Promise<void>): Promise<void> {
      const p = tail.then(task).catch((e: unknown) => logger.error({ err: e }, `ledger ${what} failed`));
      tail = p;
      return p;
    },
    idle: () => tail,
  };
}

/**
 * A short description of a sink error for logs: the innermost cause (the driver's own error), its code, capped in
 * length. The query builder's wrapper repeats the whole statement with a batch of parameters, far too much for a log.
 */
export function describeSinkError(e: unknown): { message: string; code?: string } {
  let cur: unknown = e;
  for (let depth = 0; depth < 5; depth++) {
    const cause = cur && typeof cur === 'object' ? (cur as { cause?: unknown }).cause : undefined;
    if (!cause) break;
    cur = cause;
  }
  const message = (cur instanceof Error ? cur.message : String(cur)).slice(0, 300);
  const code = cur && typeof cur === 'object' ? (cur as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? { message, code } : { message };
}

function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`ledger sink write timed out after ${ms} ms`)), ms);
  });
  // A write that loses the race may still reject later: observe it so it never becomes an unhandled rejection.
  p.catch(() => {});
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export function createLedgerWriter(options: LedgerWriterOptions): LedgerWriter {
  const { sink, batchSize, maxQueue } = options;
  const logger = options.logger ?? silent;
  const now = options.now ?? Date.now;
  const retryMin = options.retryMinMs ?? 500;
  const retryMax = options.retryMaxMs ?? 30_000;
  const isPermanent = options.isPermanentError ?? (() => false);
  const spool = createSpoolFiles(options.spoolDir);
  // Two lanes so that spilling a full queue to disk never waits behind a database write stuck in a connect timeout.
  const sinkLane = createLane(logger, 'write');
  const fileLane = createLane(logger, 'spool');

  let queue: string[] = [];
  let spooled = 0;
  let written = 0;
  let retryAt = 0;
  let backoff = retryMin;
  let sinkDown = false;
  let pending: 'size' | 'tick' | null = null;
  let closed = false;

  // First task of the file lane: count what a previous run left, before any new append adds to it.
  const scanned = fileLane.run(async () => {
    spooled += await spool.countAll();
  });

  const requestIdOf = (line: string) => {
    try {
      return sink.requestIdOf(line);
    } catch {
      return null;
    }
  };
  const readable = (line: string) => {
    try {
      return sink.readable?.(line) ?? line;
    } catch {
      return line;
    }
  };

  const report = () => options.onStats?.({ queued: queue.length, spooled });

  function toSpool(lines: string[]): Promise<void> {
    if (lines.length === 0) return Promise.resolve();
    return fileLane.run(async () => {
      try {
        await spool.append(lines);
        spooled += lines.length;
      } catch (e) {
        // Disk full or not writable: the events stay in memory (bounded by the next spill) rather than vanish.
        const kept = lines.concat(queue);
        const dropped = Math.max(0, kept.length - maxQueue * 2);
        // Memory stays bounded even with a dead disk and a dead database: beyond twice maxQueue, events are dropped loudly.
        logger.error({ err: e, events: lines.length, dropped }, 'ledger spool append failed; keeping events in memory');
        queue = kept.slice(0, maxQueue * 2);
      }
      report();
    });
  }

  function succeeded(): void {
    if (sinkDown) logger.info({ spooled }, 'ledger sink is back');
    sinkDown = false;
    backoff = retryMin;
    retryAt = 0;
  }

  function failed(e: unknown): void {
    if (!sinkDown) logger.warn({ err: describeSinkError(e) }, 'ledger sink failed; spooling events to disk');
    sinkDown = true;
    retryAt = now() + backoff;
    backoff = Math.min(retryMax, backoff * 2);
  }

  /** Writes a batch; a permanent error is narrowed down by halving until the offending events are set aside. */
  async function writeBatch(batch: string[]): Promise<void> {
    try {
      await withTimeout(sink.write(batch), options.writeTimeoutMs ?? 30_000);
      written += batch.length;
    } catch (e) {
      if (!isPermanent(e)) throw e;
      if (batch.length === 1) {
        logger.error({ err: describeSinkError(e), requestId: requestIdOf(batch[0]) }, 'ledger event refused by the database; set aside');
        await fileLane.run(() => spool.reject([readable(batch[0])]));
        return;
      }
      const mid = batch.length >> 1;
      await writeBatch(batch.slice(0, mid));
      await writeBatch(batch.slice(mid));
    }
  }

  /** Replays every spool file; false when the sink failed (the file stays for the next attempt). */
  async function replay(): Promise<boolean> {
    let files: string[] = [];
    await fileLane.run(async () => {
      files = await spool.rotate();
    });
    for (const file of files) {
      let n = 0;
      const bad: string[] = [];
      try {
        for await (const batch of spool.read(file, batchSize, (line) => sink.decode(line), (line) => bad.push(line))) {
          await writeBatch(batch);
          n += batch.length;
        }
      } catch (e) {
        failed(e);
        return false;
      }
      if (bad.length > 0) {
        logger.error({ lines: bad.length, file }, 'undecodable ledger spool lines set aside (torn by a crash?)');
        await fileLane.run(() => spool.reject(bad));
      }
      await spool.remove(file);
      spooled = Math.max(0, spooled - n - bad.length);
      if (n > 0) logger.info({ events: n }, 'ledger spool replayed');
    }
    return true;
  }

  /** size: only full batches (more events are coming); tick: everything queued; force: everything, ignoring backoff. */
  type PumpMode = 'size' | 'tick' | 'force';

  async function pump(mode: PumpMode): Promise<void> {
    await scanned;
    if (mode !== 'force' && now() < retryAt) {
      // Sink down and not yet time to retry: make queued events durable instead of holding them in memory.
      await toSpool(queue.splice(0));
      return;
    }
    if (spooled > 0 && !(await replay())) {
      await toSpool(queue.splice(0));
      return;
    }
    // tick/force write what was queued when the pump started, not what arrives while it writes: under steady traffic
    // the queue never empties, and chasing it turned one statement per interval into one per few requests.
    let budget = mode === 'size' ? Number.POSITIVE_INFINITY : queue.length;
    while (queue.length > 0 && budget > 0 && (mode !== 'size' || queue.length >= batchSize)) {
      const batch = queue.splice(0, Math.min(batchSize, budget));
      budget -= batch.length;
      try {
        await writeBatch(batch);
      } catch (e) {
        failed(e);
        await toSpool(batch.concat(queue.splice(0)));
        return;
      }
    }
    succeeded();
  }

  /** Schedules one pump; requests made before it starts merge into it (a tick wins over a size trigger). */
  function kick(mode: 'size' | 'tick'): void {
    if (pending !== null) {
      if (mode === 'tick') pending = 'tick';
      return;
    }
    pending = mode;
    void sinkLane.run(async () => {
      const m = pending ?? mode;
      pending = null;
      await pump(m);
      report();
    });
  }

  const timer = setInterval(() => kick('tick'), options.flushIntervalMs);
  timer.unref();
  kick('size'); // replays a spool left by a previous run (and writes only full batches)

  async function flush(): Promise<void> {
    await sinkLane.run(() => pump('force'));
    await fileLane.idle();
    report();
  }

  return {
    enqueue(ev) {
      try {
        const line = sink.encode(ev);
        if (closed) {
          spool.appendSync([line]);
          spooled += 1;
          return;
        }
        queue.push(line);
        if (queue.length >= maxQueue) void toSpool(queue.splice(0));
        else if (queue.length >= batchSize) kick('size');
      } catch (e) {
        logger.error({ err: e, requestId: ev.requestId }, 'ledger enqueue failed');
      }
    },
    flush,
    async close() {
      clearInterval(timer);
      await flush();
      // Events enqueued while flushing: flush again until none arrived in between, then switch to direct spooling.
      while (queue.length > 0) await flush();
      closed = true;
      await fileLane.idle();
    },
    stats: () => ({ queued: queue.length, spooled, written }),
  };
}
