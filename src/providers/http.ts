// Upstream HTTP client: one keep-alive undici pool, streamed bodies, timeouts, and network failures mapped to UpstreamError.
import { Agent, type Dispatcher } from 'undici';
import { createSseDecoder, sseBatches, type SseDecoder } from './sse.js';
import type { FileConfig } from '../config/schema.js';
import { UpstreamError, type AbortLike, type ProviderName, type UpstreamFailureKind } from './types.js';
import { remembered } from '../bounded-map.js';
import { utf8Text } from '../utf8.js';

export interface UpstreamHttpOptions {
  connectTimeoutMs: number;
  /** Until the response headers arrive; for a non-stream call also the deadline of the whole answer. */
  timeoutMs: number;
  /** Longest silence between two body chunks. */
  bodyIdleTimeoutMs: number;
  connectionsPerOrigin: number;
  /** Injected pool (tests); otherwise one is created and owned. */
  dispatcher?: Dispatcher;
}

export interface UpstreamRequest {
  provider: ProviderName;
  url: string;
  method?: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  /** The caller's cancellation (client gone, attempt timeout); undici is cancelled through its own controller. */
  signal: AbortLike;
  /** Aborts `signal`: the upstream deadline fires through it, so a call needs no controller of its own. */
  abort(reason: Error): void;
  /** true: the deadline covers the whole answer (non-stream); false: only until headers (streams). */
  wholeAnswerDeadline: boolean;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string>;
  /** The body as it arrives; iteration errors are already UpstreamErrors. */
  body: AsyncIterable<Uint8Array>;
  text(): Promise<string>;
  /** The untouched byte stream (Responses API pass-through). */
  toWeb(): ReadableStream<Uint8Array>;
  /**
   * The body read as Server-Sent Events: each `data` payload goes through `parse` as the bytes arrive; null from it is
   * the end marker (the rest is not read), a throw fails the stream after the events before it, and a body that ends
   * without the marker fails with `endedEarly()`.
   */
  events<T>(parse: (data: string) => T | null, endedEarly: () => Error): AsyncIterable<T>;
  /** Release the connection without reading the rest. */
  dispose(): void;
}

export interface UpstreamHttp {
  request(req: UpstreamRequest): Promise<UpstreamResponse>;
  readonly options: Readonly<UpstreamHttpOptions>;
  close(): Promise<void>;
}

export function upstreamHttpOptionsFromConfig(upstream: FileConfig['upstream']): UpstreamHttpOptions {
  return {
    connectTimeoutMs: upstream.connect_timeout_ms,
    timeoutMs: upstream.timeout_ms,
    bodyIdleTimeoutMs: upstream.stream_idle_timeout_ms,
    connectionsPerOrigin: upstream.connections_per_origin,
  };
}

const connectCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);
const resetCodes = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ECONNABORTED']);
const timeoutCodes = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

function errorCode(err: unknown): string | undefined {
  if (err && typeof err === 'object') {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const cause = (err as { cause?: unknown }).cause;
    if (cause && cause !== err) return errorCode(cause);
  }
  return undefined;
}

export interface NetworkErrorContext {
  provider: ProviderName;
  /** The caller's signal: aborted means the client went away. */
  signal: AbortLike;
  /** Our own deadline fired. */
  deadlineFired: boolean;
  /** Failed after the headers: a cut in the middle of the answer. */
  inBody: boolean;
}

/** Maps an undici/node network failure to an UpstreamError kind; the message never carries request headers (keys). */
export function mapNetworkError(err: unknown, at: NetworkErrorContext): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const code = errorCode(err);
  let kind: UpstreamFailureKind;
  // Our deadline aborts the caller's signal too: it is checked first.
  if (at.deadlineFired) kind = 'timeout';
  else if (at.signal.aborted) kind = 'aborted';
  else if (code !== undefined && timeoutCodes.has(code)) kind = 'timeout';
  else if (at.inBody) kind = 'stream';
  else if (code !== undefined && connectCodes.has(code)) kind = 'connect';
  else if (code !== undefined && (code.startsWith('ERR_TLS') || code.includes('CERT'))) kind = 'connect';
  else if (code !== undefined && resetCodes.has(code)) kind = 'reset';
  else kind = 'reset';
  const what =
    kind === 'aborted'
      ? 'request aborted by the caller'
      : kind === 'timeout'
        ? 'upstream timed out'
        : kind === 'stream'
          ? 'upstream answer was cut'
          : kind === 'connect'
            ? 'cannot connect to upstream'
            : 'upstream connection was reset';
  const detail = err instanceof Error ? err.message : String(err);
  return new UpstreamError({
    provider: at.provider,
    kind,
    message: `${at.provider}: ${what}${code ? ` (${code})` : ''}: ${detail}`,
    cause: err,
  });
}

function flattenHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/**
 * An upstream call's deadline. It fires through the caller's own controller (`req.abort`): a second controller joined
 * by AbortSignal.any() cost ~40 µs per call on Node 20. `at` tells mapNetworkError whether it fired.
 */
function startDeadline(req: UpstreamRequest, ms: number, what: string): { clear(): void; at(inBody: boolean): NetworkErrorContext } {
  let fired = false;
  const timer = setTimeout(() => {
    fired = true;
    req.abort(new Error(`${what} within ${ms} ms`));
  }, ms);
  timer.unref();
  return {
    clear: () => clearTimeout(timer),
    at: (inBody) => ({ provider: req.provider, signal: req.signal, deadlineFired: fired, inBody }),
  };
}

type Target = { origin: string; path: string };
/** Origin and path of an upstream URL, parsed once: providers call a handful of fixed URLs. */
const targets = new Map<string, Target>();
function target(url: string): Target {
  return remembered(targets, url, 1000, parseTarget);
}
function parseTarget(url: string): Target {
  const u = new URL(url);
  return { origin: u.origin, path: `${u.pathname}${u.search}` };
}

type Settle = { ok: true } | { ok: false; error: UpstreamError };
const SETTLED_OK: Settle = { ok: true };

// sendWhole and sendStream each write out their dispatch options and the wiring from the caller's signal to undici's
// controller. Shared through a helper object (a `linkAbort(signal)` returning the controller through a getter), the
// bytes promoted to the old generation per chat request rose from 12.5 to 18.5 KB (`--trace-gc-nvp`, one connection,
// four runs each), so more scavenge and full-collection time on every request: the copies are on purpose.

/**
 * A whole-answer (non-stream) call through undici's dispatch API: the answer is collected as it arrives, with no
 * Readable, async iterator or second promise chain per response. `request()` + `body.text()` cost ~45 µs more CPU
 * per call (micro-measured on this machine, the same server answering), ~6% of a gateway request. Same contract as
 * the streaming path: the deadline covers the whole answer and fires through the caller's controller, the caller's
 * signal cancels it, failures are UpstreamErrors with the same kinds.
 */
function sendWhole(dispatcher: Dispatcher, options: UpstreamHttpOptions, req: UpstreamRequest): Promise<UpstreamResponse> {
  if (req.signal.aborted) {
    return Promise.reject(mapNetworkError(req.signal.reason, { provider: req.provider, signal: req.signal, deadlineFired: false, inBody: false }));
  }
  let headersSeen = false;

  const chunks: Buffer[] = [];
  let settled: Settle | null = null;
  let onSettled: ((s: Settle) => void) | null = null;
  let web: ReadableStreamDefaultController<Uint8Array> | null = null;
  let consumed = false;
  let controller: Dispatcher.DispatchController | null = null;
  let abortReason: Error | null = null;

  const deadline = startDeadline(req, options.timeoutMs, 'no complete answer');
  const onAbort = () => {
    const r = req.signal.reason;
    abortReason = r instanceof Error ? r : new Error(String(r ?? 'aborted'));
    controller?.abort(abortReason);
  };
  req.signal.addEventListener('abort', onAbort); // removed when settled; an abort fires once
  const settle = (s: Settle) => {
    if (settled) return;
    settled = s;
    deadline.clear();
    req.signal.removeEventListener('abort', onAbort);
    if (web) s.ok ? web.close() : web.error(s.error);
    onSettled?.(s);
  };
  const whenSettled = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const done = (s: Settle) => (s.ok ? resolve() : reject(s.error));
      if (settled) done(settled);
      else onSettled = done;
    });
  const take = () => {
    if (consumed) throw new Error('upstream body already consumed');
    consumed = true;
  };

  return new Promise<UpstreamResponse>((resolve, reject) => {
    // Before the headers the call itself fails; after them, whoever reads the body gets the error.
    const fail = (e: unknown) => {
      const error = mapNetworkError(e, deadline.at(headersSeen));
      settle({ ok: false, error });
      if (!headersSeen) reject(error);
    };
    const { origin, path } = target(req.url);
    try {
      dispatcher.dispatch(
        { origin, path, method: req.method ?? 'POST', headers: req.headers, body: req.body ?? null, headersTimeout: options.timeoutMs, bodyTimeout: options.bodyIdleTimeoutMs },
        {
          onRequestStart(c) {
            controller = c;
            if (abortReason) c.abort(abortReason);
          },
          onResponseStart(_c, statusCode, headers) {
            if (statusCode < 200) return; // 1xx: the real answer follows
            headersSeen = true;
            const body: AsyncIterable<Uint8Array> = {
              async *[Symbol.asyncIterator]() {
                take();
                await whenSettled();
                yield* chunks;
              },
            };
            resolve({
              status: statusCode,
              headers: flattenHeaders(headers),
              body,
              async text() {
                take();
                // A small answer has usually ended by now (headers and body in one read): no promise to wait on.
                if (settled !== SETTLED_OK) await whenSettled();
                return utf8Text(chunks);
              },
              toWeb() {
                take();
                return new ReadableStream<Uint8Array>({
                  start(w) {
                    for (const c of chunks) w.enqueue(c);
                    if (settled) settled.ok ? w.close() : w.error(settled.error);
                    else web = w;
                  },
                  cancel() {
                    controller?.abort(new Error('upstream body cancelled'));
                  },
                });
              },
              events: (parse, endedEarly) => eventsOf(body, parse, endedEarly),
              dispose() {
                if (!settled) controller?.abort(new Error('upstream body disposed'));
              },
            });
          },
          onResponseData(_c, chunk) {
            chunks.push(chunk);
            web?.enqueue(chunk);
          },
          onResponseEnd() {
            settle(SETTLED_OK);
          },
          onResponseError(_c, e) {
            fail(e);
          },
        },
      );
    } catch (e) {
      fail(e);
    }
  });
}

/** SSE payloads of a body that is already a byte iterable (whole answers), the same contract as the stream path. */
async function* eventsOf<T>(body: AsyncIterable<Uint8Array>, parse: (data: string) => T | null, endedEarly: () => Error): AsyncGenerator<T> {
  for await (const batch of sseBatches(body)) {
    for (const data of batch) {
      const v = parse(data);
      if (v === null) return;
      yield v;
    }
  }
  throw endedEarly();
}

/** Backpressure of a streamed body: undici stops reading the socket while this much waits for the reader. */
const HIGH_BYTES = 256 * 1024;
const HIGH_EVENTS = 256;

/**
 * A streamed call through undici's dispatch API, read push-style: each network chunk is handled inside
 * `onResponseData`, and in SSE mode (`events`) decoded and parsed there, so that a reader waiting for the next event is
 * woken by one promise instead of four async layers (undici's Readable, its async iterator, the SSE batcher, the
 * adapter's generator). Backpressure: undici is paused while the queue is over its mark and resumed when the reader
 * drains it. The deadline covers the time until the headers; afterwards undici's body idle timeout guards the stream.
 * The caller's signal cancels it at any point, and failures are UpstreamErrors of the same kinds as on `sendWhole`.
 */
function sendStream(dispatcher: Dispatcher, options: UpstreamHttpOptions, req: UpstreamRequest): Promise<UpstreamResponse> {
  if (req.signal.aborted) {
    return Promise.reject(mapNetworkError(req.signal.reason, { provider: req.provider, signal: req.signal, deadlineFired: false, inBody: false }));
  }
  const deadline = startDeadline(req, options.timeoutMs, 'no headers');
  let headersSeen = false;
  let controller: Dispatcher.DispatchController | null = null;
  let abortReason: Error | null = null;
  let paused = false;

  // What the reader has not taken yet: Buffers (bytes mode, or before a reader chose a mode) or parsed events.
  let queue: unknown[] = [];
  let head = 0;
  let queuedBytes = 0;
  let mode: 'none' | 'bytes' | 'text' | 'events' = 'none';
  let decoder: SseDecoder | null = null;
  let parse: ((data: string) => unknown) | null = null;
  let endedEarly: (() => Error) | null = null;
  /** SSE end marker seen: the reader is done, the rest of the body is ignored. */
  let marker = false;
  /** The upstream answer is over (ended or failed). */
  let ended = false;
  let failure: Error | null = null;
  let failureTaken = false;
  let readerGone = false;
  let waiter: { resolve(r: IteratorResult<unknown>): void; reject(e: unknown): void } | null = null;

  const onAbort = () => {
    const r = req.signal.reason;
    abortReason = r instanceof Error ? r : new Error(String(r ?? 'aborted'));
    controller?.abort(abortReason);
  };
  req.signal.addEventListener('abort', onAbort); // removed when settled; an abort fires once

  const over = () => (mode === 'events' ? queue.length - head > HIGH_EVENTS : mode !== 'text' && queuedBytes > HIGH_BYTES);

  /** The next result for the reader, or null when it must wait. */
  const nextResult = (): IteratorResult<unknown> | Error | null => {
    if (head < queue.length) {
      const value = queue[head];
      queue[head++] = undefined;
      if (head === queue.length) {
        queue = [];
        head = 0;
      } else if (head >= 1024) {
        // A reader that never quite catches up would otherwise grow the array by a slot per event for the whole stream.
        queue = queue.slice(head);
        head = 0;
      }
      if (mode !== 'events') queuedBytes -= (value as Buffer).length;
      if (paused && !over()) {
        paused = false;
        controller?.resume();
      }
      return { value, done: false };
    }
    if (failure && !failureTaken) {
      failureTaken = true;
      return failure;
    }
    if (marker || ended) return { value: undefined, done: true };
    return null;
  };
  const wake = () => {
    if (!waiter) return;
    const r = nextResult();
    if (r === null) return;
    const w = waiter;
    waiter = null;
    r instanceof Error ? w.reject(r) : w.resolve(r);
  };
  const finish = (error: Error | null) => {
    if (ended) return;
    ended = true;
    deadline.clear();
    req.signal.removeEventListener('abort', onAbort);
    if (mode === 'events' && !marker && !failure) {
      if (error === null) closeEvents();
      else failure = error;
    } else if (error && !marker) failure ??= error;
    wake();
  };
  /** SSE payloads → parsed events on the queue, up to the end marker or the first failure. */
  const feed = (payloads: string[]) => {
    for (const data of payloads) {
      if (marker || failure) return;
      let v: unknown;
      try {
        v = parse!(data);
      } catch (e) {
        failure = e instanceof Error ? e : new Error(String(e));
        controller?.abort(failure); // stop reading: the stream has failed
        return;
      }
      if (v === null) marker = true;
      else queue.push(v);
    }
  };
  /** The body is over in events mode: the decoder's last events, then endedEarly() unless the end marker came. */
  const closeEvents = () => {
    feed(decoder!.end());
    if (!marker && !failure) failure = endedEarly!();
  };
  const choose = (m: 'bytes' | 'text' | 'events') => {
    if (mode !== 'none') throw new Error('upstream body already consumed');
    mode = m;
    if (m !== 'events') return;
    decoder = createSseDecoder();
    const raw = queue.slice(head) as Buffer[];
    queue = [];
    head = 0;
    queuedBytes = 0;
    for (const chunk of raw) feed(decoder.push(chunk));
    if (ended && !marker && !failure) closeEvents();
  };
  const iterator = <T>(): AsyncIterableIterator<T> => {
    const it: AsyncIterableIterator<T> = {
      next() {
        const r = nextResult();
        if (r instanceof Error) return Promise.reject(r);
        if (r !== null) return Promise.resolve(r as IteratorResult<T>);
        if (paused) {
          paused = false;
          controller?.resume();
        }
        return new Promise<IteratorResult<T>>((resolve, reject) => {
          waiter = { resolve: resolve as (r: IteratorResult<unknown>) => void, reject };
        });
      },
      return() {
        dispose();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return it;
      },
    };
    return it;
  };
  const dispose = () => {
    readerGone = true;
    queue = [];
    head = 0;
    if (!ended && !marker) controller?.abort(new Error('upstream body disposed'));
  };

  return new Promise<UpstreamResponse>((resolve, reject) => {
    const fail = (e: unknown) => {
      if (ended) return;
      const error = failure && e === failure ? failure : mapNetworkError(e, deadline.at(headersSeen));
      if (!headersSeen) {
        ended = true;
        deadline.clear();
        req.signal.removeEventListener('abort', onAbort);
        reject(error);
        return;
      }
      finish(readerGone ? null : error);
    };
    const { origin, path } = target(req.url);
    try {
      dispatcher.dispatch(
        { origin, path, method: req.method ?? 'POST', headers: req.headers, body: req.body ?? null, headersTimeout: options.timeoutMs, bodyTimeout: options.bodyIdleTimeoutMs },
        {
          onRequestStart(c) {
            controller = c;
            if (abortReason) c.abort(abortReason);
          },
          onResponseStart(_c, statusCode, headers) {
            if (statusCode < 200) return; // 1xx: the real answer follows
            headersSeen = true;
            deadline.clear();
            resolve({
              status: statusCode,
              headers: flattenHeaders(headers),
              body: {
                [Symbol.asyncIterator]() {
                  choose('bytes');
                  return iterator<Uint8Array>();
                },
              },
              async text() {
                choose('text');
                const chunks: Buffer[] = [];
                for await (const c of iterator<Buffer>()) chunks.push(c);
                return utf8Text(chunks);
              },
              toWeb() {
                choose('bytes');
                const it = iterator<Uint8Array>();
                return new ReadableStream<Uint8Array>(
                  {
                    async pull(w) {
                      const r = await it.next();
                      if (r.done) w.close();
                      else w.enqueue(r.value);
                    },
                    cancel() {
                      dispose();
                    },
                  },
                  { highWaterMark: 0 },
                );
              },
              events<T>(p: (data: string) => T | null, early: () => Error): AsyncIterable<T> {
                parse = p;
                endedEarly = early;
                choose('events');
                return iterator<T>();
              },
              dispose,
            });
          },
          onResponseData(c, chunk) {
            if (readerGone || marker || failure) return;
            if (mode === 'events') feed(decoder!.push(chunk));
            else {
              queue.push(chunk);
              queuedBytes += chunk.length;
            }
            if (!paused && over()) {
              paused = true;
              c.pause();
            }
            wake();
          },
          onResponseEnd() {
            finish(null);
          },
          onResponseError(_c, e) {
            fail(e);
          },
        },
      );
    } catch (e) {
      fail(e);
    }
  });
}

export function createUpstreamHttp(options: UpstreamHttpOptions): UpstreamHttp {
  const owned = options.dispatcher === undefined;
  const dispatcher =
    options.dispatcher ??
    new Agent({
      connections: options.connectionsPerOrigin,
      connectTimeout: options.connectTimeoutMs,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.bodyIdleTimeoutMs,
      keepAliveTimeout: 30_000,
    });

  function send(req: UpstreamRequest): Promise<UpstreamResponse> {
    return req.wholeAnswerDeadline ? sendWhole(dispatcher, options, req) : sendStream(dispatcher, options, req);
  }

  return {
    request: send,
    options,
    async close() {
      if (owned) await dispatcher.close();
    },
  };
}

/** Parses Retry-After (seconds or HTTP date) and OpenAI's retry-after-ms into milliseconds. */
export function retryAfterMsFromHeaders(headers: Record<string, string>, now: number = Date.now()): number | null {
  const ms = headers['retry-after-ms'];
  if (ms !== undefined && ms.trim() !== '' && Number.isFinite(Number(ms))) return Math.max(0, Math.round(Number(ms)));
  const ra = headers['retry-after'];
  if (ra === undefined || ra.trim() === '') return null;
  if (Number.isFinite(Number(ra))) return Math.max(0, Math.round(Number(ra) * 1000));
  const date = Date.parse(ra);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** Removes a secret from text that may echo it back (some upstreams quote the rejected key). */
export function redactSecret(text: string, secret: string | undefined): string {
  if (!secret || secret.length < 4) return text;
  return text.split(secret).join('***');
}
