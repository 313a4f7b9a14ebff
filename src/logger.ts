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
    pino.destination({ dest: 1, sync: options.sync ?? false, minLength: 0 }),
  );
}

/** A logger that writes nothing (tests that do not look at logs). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
