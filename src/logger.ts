// The process logger: pino, JSON lines, written asynchronously so logging stays off the request's critical path.
import pino from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string, options: { sync?: boolean } = {}): Logger {
  return pino(
    {
      level,
      base: undefined,
      // Defence in depth: whatever a call site passes, these never reach a log line.
      redact: { paths: ['authorization', 'headers.authorization', '*.apiKey', 'apiKey', 'key.secret', 'secret'], censor: '[redacted]' },
    },
    createDestination(options.sync ?? false),
  );
}

/**
 * Asynchronous stdout, buffered up to 12 KiB and flushed at least every 250 ms: one write per request line cost
 * ~0.4 ms of CPU per request in the benchmark; batching makes it a write per few dozen lines. Each write is a hop to
 * a libuv thread and back, which on a busy core also wakes that thread: 12 KiB instead of 4 measured 0.314 / 0.309 →
 * 0.285 / 0.298 ms of CPU per request at 32 connections (bench A/B, 2026-12-06). sonic-boom wants minLength below
 * its maxWrite (16 KiB). A crash loses at most the lines of one batch or 250 ms.
 */
function createDestination(sync: boolean) {
  if (sync) return pino.destination({ dest: 1, sync: true, minLength: 0 });
  const dest = new LineBatcher(pino.destination({ dest: 1, sync: false, minLength: BATCH_BYTES }));
  setInterval(() => dest.flush(), 250).unref();
  process.once('beforeExit', () => dest.flushSync());
  return dest;
}

const BATCH_BYTES = 12288;

/**
 * Collects lines and hands them to sonic-boom a batch at a time. Given line by line, sonic-boom appends each to one
 * pending string and measures that whole string again (`Buffer.byteLength`), which copies it on every line: ~2.7 KiB
 * of garbage per request line (bench allocation profile). A list joined once per batch copies each line once.
 */
class LineBatcher {
  private lines: string[] = [];
  private size = 0;
  constructor(private readonly out: pino.DestinationStream & { flush(cb?: (err?: Error) => void): void; flushSync(): void }) {}

  write(line: string): boolean {
    this.lines.push(line);
    this.size += line.length;
    if (this.size >= BATCH_BYTES) this.drain();
    return true;
  }

  private drain(): void {
    if (this.lines.length === 0) return;
    const batch = this.lines.length === 1 ? this.lines[0] : this.lines.join('');
    this.lines = [];
    this.size = 0;
    this.out.write(batch);
  }

  /** Writes what is pending; `cb` once it is written (pino's logger.flush). Idle, the timer's flush writes nothing. */
  flush(cb?: (err?: Error) => void): void {
    const pending = this.lines.length > 0;
    this.drain();
    if (pending || cb) this.out.flush(cb);
  }

  flushSync(): void {
    this.drain();
    this.out.flushSync();
  }
}

type PinoInternals = Record<symbol, unknown>;

/**
 * Writes a per-request access line to the logger's destination as `logger.info(fields, msg)` writes it with this
 * module's options (`{"level":30,"time":…,<fields>,"msg":…}`), from `fields`, the line's members as JSON text that
 * the caller builds in a fixed order (meter.ts `accessFields`). It skips pino's redaction pass (~3 µs and ~6 KiB of
 * garbage per line: its wildcard path walks every field) and its object serialiser (~1.2 µs and ~3.7 KiB more): the
 * line carries only fields meter() picks (ids, counts, cost), never a header or a key. Every other log call keeps both.
 */
export function writeAccessLine(logger: Logger, fields: string, msg: string): void {
  if (logger.levelVal > INFO) return;
  const internals = logger as unknown as PinoInternals;
  // A child logger's bindings (`,"k":v…`; none on the logger createLogger makes), where pino puts them.
  const bindings = internals[pino.symbols.chindingsSym] as string;
  const dest = internals[pino.symbols.streamSym] as { write(line: string): unknown };
  dest.write(`{"level":${INFO},"time":${Date.now()}${bindings},${fields},"msg":${JSON.stringify(msg)}}\n`);
}

const INFO = 30;

/** A logger that writes nothing (tests that do not look at logs). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
