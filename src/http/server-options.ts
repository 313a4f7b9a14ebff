// Node HTTP server limits from config (header size, time to receive a request), shared by server.ts and the test harness.
import type { Server, ServerOptions } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ServerType } from '@hono/node-server';
import type { FileConfig } from '../config/schema.js';

/** Node refuses over-long headers (431) and requests not received in time (408) before the app sees them. */
export function httpServerOptions(server: FileConfig['server']): ServerOptions {
  // Headers must arrive well before the whole request; Node requires headersTimeout <= requestTimeout.
  const headersTimeout = Math.min(60_000, server.request_timeout_ms);
  return { maxHeaderSize: server.max_header_bytes, requestTimeout: server.request_timeout_ms, headersTimeout };
}

const REFUSALS: Record<string, [number, string, string, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'request_too_large', 'Request headers exceed the server limit.'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'request_timeout', 'The request was not received in time.'],
};
const MALFORMED: [number, string, string, string] = [400, 'Bad Request', 'invalid_request', 'Malformed HTTP request.'];

/**
 * Answers requests Node's parser refuses (bad header bytes, header overflow, timeouts) with the OpenAI error shape
 * instead of Node's empty-bodied default, so a client never sees a response it cannot parse.
 */
export function installClientErrorHandler(server: ServerType): void {
  (server as Server).on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // A response already on the wire (its headers sent) cannot get a second status line.
    const busy = (socket as unknown as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
    if (err.code === 'ECONNRESET' || !socket.writable || busy) {
      socket.destroy();
      return;
    }
    const [status, reason, code, message] = REFUSALS[err.code ?? ''] ?? MALFORMED;
    const body = JSON.stringify({ error: { message, type: 'invalid_request_error', param: null, code } });
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
}
