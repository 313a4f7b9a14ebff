// Writes a server-sent event stream to the client. On the Node server (@hono/node-server) the events go straight onto
// the Node response: status line, headers and first event leave in one write, and each later event in one write as it
// is pulled. Through a web ReadableStream instead, node-server writes the headers alone (flushHeaders), then each
// event a few promise turns later through its reader loop: one more syscall and client wake-up before the first token,
// and a ReadableStream, a reader and a promise chain per event (docs/performance.md, 2026-12-07). Anywhere else
// (app.request in tests, another runtime) the same source becomes a ReadableStream.
import type { ServerResponse } from 'node:http';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';

/** A pull source of SSE bytes: the client's pace sets when the next event is read (backpressure). */
export interface SseSource {
  /** The next bytes to send; null once the stream has ended (after its last event) or was cancelled. */
  pull(): Promise<Uint8Array | null>;
  /** The client went away before the end: stop the upstream. Called at most once, never after pull() gave null. */
  cancel(): void;
}

export interface EventPullOptions<T> {
  /** The first item, already read from the upstream (pulled to decide on fallback). */
  first: T;
  rest: AsyncIterator<T>;
  /** One item's bytes; null leaves it out (the pull reads on). A promise is awaited (work before an event leaves). */
  render(item: T): Uint8Array | null | Promise<Uint8Array | null>;
  /** Bytes after the last item, if any (chat's `data: [DONE]`). */
  end: Uint8Array | null;
  /** The upstream failed mid-stream: the bytes of the error event that ends the stream. */
  fail(e: unknown): Uint8Array;
  abortUpstream(): void;
  /** Once, when the stream is over: ended, failed, or (`aborted`) left by the client. */
  onDone(aborted: boolean): void;
}

/** The pull source of an upstream's items turned into events: one event per pull, the upstream stopped on cancel. */
export function eventPull<T>(o: EventPullOptions<T>): SseSource {
  let finished = false;
  let aborted = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    o.onDone(aborted);
  };
  let pending: T | null = o.first;
  return {
    async pull() {
      if (finished) return null;
      try {
        for (;;) {
          let item: T;
          if (pending !== null) {
            item = pending;
            pending = null;
          } else {
            const r = await o.rest.next();
            if (aborted) return null;
            if (r.done) {
              finish();
              return o.end;
            }
            item = r.value;
          }
          const rendered = o.render(item);
          const bytes = rendered instanceof Promise ? await rendered : rendered;
          if (bytes) return bytes;
        }
      } catch (e) {
        if (aborted) return null;
        const bytes = o.fail(e);
        finish();
        return bytes;
      }
    },
    cancel() {
      if (finished) return;
      aborted = true;
      o.abortUpstream();
      o.rest.return?.().catch(() => {});
      finish();
    },
  };
}

/** The SSE answer: written directly when `out` is the Node response, else returned as a streamed Response. */
export function sseResponse(out: ServerResponse | undefined, headers: Record<string, string>, src: SseSource): Response {
  if (!out) return new Response(readableOf(src), { status: 200, headers });
  writeToNode(out, headers, src);
  // node-server leaves a response carrying its `x-hono-already-sent` header alone. Hono hands it on as is unless a
  // middleware read c.res or called c.header() before the handler returned (Hono would then copy it into a new
  // Response, which node-server would write over this stream); none on /v1 does (app.ts sets x-request-id on `out`).
  return RESPONSE_ALREADY_SENT;
}

function readableOf(src: SseSource): ReadableStream<Uint8Array> {
  let cancelled = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const bytes = await src.pull();
        if (cancelled) return;
        if (bytes === null) controller.close();
        else controller.enqueue(bytes);
      },
      cancel() {
        cancelled = true;
        src.cancel();
      },
    },
    { highWaterMark: 0 },
  );
}

function writeToNode(out: ServerResponse, headers: Record<string, string>, src: SseSource): void {
  let ended = false;
  let gone = out.destroyed || out.closed;
  // writeHead only stores the header block: Node sends it with the first write, in the same syscall.
  if (!gone) out.writeHead(200, headers);
  const onClose = () => {
    if (gone || out.writableFinished) return;
    gone = true;
    if (!ended) src.cancel();
  };
  out.on('close', onClose);
  const run = async () => {
    if (gone) {
      src.cancel();
      return;
    }
    for (;;) {
      const bytes = await src.pull();
      if (bytes === null) {
        ended = true;
        if (!gone) out.end();
        return;
      }
      if (gone) return; // cancelled: the source winds down on its own
      if (!out.write(bytes)) await drained(out);
    }
  };
  run().catch((e: unknown) => {
    // A bug of ours, not the upstream's (the source turns those into error events): drop the connection.
    if (!gone) out.destroy(e instanceof Error ? e : new Error(String(e)));
  });
}

/** Resolves when the socket takes writes again, or when the response closes (the client left). */
function drained(out: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      out.off('drain', done);
      out.off('close', done);
      resolve();
    };
    out.on('drain', done);
    out.on('close', done);
  });
}
