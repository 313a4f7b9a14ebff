// Node HTTP server limits from config (header size, time to receive a request), shared by main.ts and the test harness.
import type { ServerOptions } from 'node:http';
import type { FileConfig } from '../config/schema.js';

/** Node answers 431 itself when the headers exceed maxHeaderSize, and 408 when a request is not received in time. */
export function httpServerOptions(server: FileConfig['server']): ServerOptions {
  // Headers must arrive well before the whole request; Node requires headersTimeout <= requestTimeout.
  const headersTimeout = Math.min(60_000, server.request_timeout_ms);
  return { maxHeaderSize: server.max_header_bytes, requestTimeout: server.request_timeout_ms, headersTimeout };
}
