// The client's side of a request on the Node server: gone when the connection closes before the answer is complete.
// @hono/node-server's `c.req.raw.signal` gives the same, but reading it builds an AbortController per request (an
// EventTarget: ~1% of the CPU per request, and objects that outlive young-generation collections); this is one small
// object and a listener on the response's `close`, under the same rule as node-server's own close handler.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import { LightSignal, type ClientSignal } from '../gateway/upstream-signal.js';
import { outgoingOf } from './context.js';

const PREMATURE_CLOSE = 'Client connection prematurely closed.';
const kSignal = Symbol('tollgate.clientSignal');

type Outgoing = ServerResponse & { [kSignal]?: ConnectionSignal };

/** The connection's signal: aborted by the response's `close` handler below. */
class ConnectionSignal extends LightSignal {
  abort(reason: unknown): void {
    this.fire(reason);
  }
}

/** The response closed: before it finished (or with the request in error) means the client went away. */
function onClose(this: Outgoing): void {
  const signal = this[kSignal];
  if (!signal) return;
  this[kSignal] = undefined;
  const incoming = this.req as IncomingMessage | undefined;
  if (incoming?.errored) signal.abort(incoming.errored.toString());
  else if (!this.writableFinished) signal.abort(PREMATURE_CLOSE);
}

/** The request's client signal: on the Node server the connection's, elsewhere (app.request in tests) the Request's. */
export function clientSignalOf(c: Context): ClientSignal {
  const outgoing = outgoingOf(c) as Outgoing | undefined;
  if (!outgoing) return c.req.raw.signal;
  let signal = outgoing[kSignal];
  if (signal) return signal;
  signal = new ConnectionSignal();
  if (outgoing.destroyed || outgoing.closed) signal.abort(PREMATURE_CLOSE);
  else {
    outgoing[kSignal] = signal;
    outgoing.on('close', onClose); // a response closes once; `on` spares the wrapper `once` would allocate
  }
  return signal;
}
