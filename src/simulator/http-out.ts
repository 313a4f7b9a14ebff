// Writing answers: JSON bodies, provider-shaped errors and a stream writer that notices clients leaving and respects backpressure.
import type { ServerResponse } from 'node:http';
import type { SimProvider } from './types.js';
import { sleep } from './util.js';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, prefix = ''): void {
  const text = prefix + JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

const geminiStatus: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'NOT_IMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

export function geminiErrorBody(status: number, message: string, details: unknown[] = []): { error: Record<string, unknown> } {
  const error: Record<string, unknown> = { code: status, message, status: geminiStatus[status] ?? (status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION') };
  if (details.length > 0) error.details = details;
  return { error };
}

export function openaiErrorBody(message: string, type: string, code: string | null, param: string | null = null) {
  return { error: { message, type, param, code } };
}

/** The body a real provider sends with this status (used by status faults). */
export function statusErrorBody(provider: SimProvider, status: number, retryAfterS?: number): unknown {
  if (provider === 'gemini') {
    const details: unknown[] = [];
    if (status === 429 && retryAfterS !== undefined) {
      details.push({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryAfterS}s` });
    }
    const msg = status === 429 ? 'Resource has been exhausted (e.g. check quota).' : status === 503 ? 'The model is overloaded. Please try again later.' : `Simulated error ${status}.`;
    return geminiErrorBody(status, msg, details);
  }
  if (status === 429) return openaiErrorBody('Rate limit reached for requests (simulated). Please try again later.', 'requests', 'rate_limit_exceeded');
  if (status === 401) return openaiErrorBody('Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
  if (status === 402) return openaiErrorBody('Insufficient Balance', 'unknown_error', 'invalid_request_error');
  if (status === 404) return openaiErrorBody('The model does not exist or you do not have access to it.', 'invalid_request_error', 'model_not_found');
  if (status >= 500) return openaiErrorBody('The server had an error while processing your request (simulated).', 'server_error', null);
  return openaiErrorBody(`Simulated error ${status}.`, 'invalid_request_error', null);
}

export function authErrorBody(provider: SimProvider): { status: number; body: unknown } {
  if (provider === 'gemini') {
    return {
      status: 400,
      body: geminiErrorBody(400, 'API key not valid. Please pass a valid API key.', [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
      ]),
    };
  }
  return { status: 401, body: openaiErrorBody('Incorrect API key provided. You can find your API key in your account settings.', 'invalid_request_error', 'invalid_api_key') };
}

/**
 * A chunked answer (SSE). Every write waits for `drain` when the socket is full, and reports whether the client is
 * still there, so that generation stops as soon as it leaves.
 */
export class StreamWriter {
  private gone = false;
  chunks = 0;

  constructor(private readonly res: ServerResponse, private readonly chunkDelayMs: number) {
    res.on('close', () => {
      if (!res.writableFinished) this.gone = true;
    });
  }

  get clientGone(): boolean {
    return this.gone || this.res.destroyed;
  }

  start(headers: Record<string, string>): void {
    this.res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', ...headers });
    this.res.flushHeaders();
  }

  /** Writes raw bytes (an event, a comment); false when the client has gone. */
  async raw(text: string): Promise<boolean> {
    if (this.clientGone) return false;
    if (!this.res.write(text)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.res.off('drain', done);
          this.res.off('close', done);
          resolve();
        };
        this.res.on('drain', done);
        this.res.on('close', done);
      });
    }
    return !this.clientGone;
  }

  /** One data event, paced by chunkDelayMs (not before the first one: that is ttft's job). */
  async event(data: string, sep = '\n\n'): Promise<boolean> {
    if (this.chunks > 0 && this.chunkDelayMs > 0) await sleep(this.chunkDelayMs);
    if (this.clientGone) return false;
    this.chunks += 1;
    return this.raw(`data: ${data}${sep}`);
  }

  end(): void {
    if (!this.clientGone) this.res.end();
  }

  /** Drops the connection without a proper end (a cut stream). */
  destroy(): void {
    dropConnection(this.res);
  }
}

/**
 * Closes the connection after what was written so far reaches the client, without finishing the HTTP message:
 * the client sees a body cut short. (destroy() alone would discard bytes still queued on the socket.)
 */
export function dropConnection(res: ServerResponse): void {
  const socket = res.socket;
  if (!socket) return;
  socket.end();
  setTimeout(() => socket.destroy(), 100).unref();
}
