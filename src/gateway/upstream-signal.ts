// One upstream attempt's cancellation: aborted when the client leaves or the overall timeout fires, and released
// cheaply when the exchange completes (no abort, so no DOMException and stack capture on the hot path).

/**
 * The client's side of a request, as far as the gateway needs it: has the client gone away, and a call when it does.
 * An AbortSignal is one; on the Node server it is http/client-signal.ts's, which costs no AbortController per request.
 */
export interface ClientSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface AttemptSignal {
  readonly signal: AbortSignal;
  /** Cancel the upstream request (client gone, stream closed early, upstream deadline). */
  abort(reason?: Error): void;
  /** The exchange is complete: drop the timer and the client listener. */
  release(): void;
}

export function linkSignals(client: ClientSignal, timeoutMs: number): AttemptSignal {
  const ac = new AbortController();
  const onClientAbort = () => ac.abort(client.reason);
  const timer = setTimeout(() => ac.abort(new DOMException('upstream timeout', 'TimeoutError')), timeoutMs);
  timer.unref();
  const release = () => {
    clearTimeout(timer);
    client.removeEventListener('abort', onClientAbort);
  };
  if (client.aborted) ac.abort(client.reason);
  else client.addEventListener('abort', onClientAbort, { once: true });
  return {
    signal: ac.signal,
    abort(reason) {
      release();
      if (!ac.signal.aborted) ac.abort(reason);
    },
    release,
  };
}
