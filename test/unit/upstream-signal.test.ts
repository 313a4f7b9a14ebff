// An upstream attempt's signal (src/gateway/upstream-signal.ts): aborted by the client, by the overall timeout or by
// the gateway itself, each listener once; released, it follows neither the client nor the timer any more.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { linkSignals } from '../../src/gateway/upstream-signal.js';
import type { AbortLike } from '../../src/providers/types.js';

/** A client's signal that shows its listeners: the attempt must leave none behind once released. */
class Client implements AbortLike {
  aborted = false;
  reason: unknown = undefined;
  readonly listeners = new Set<() => void>();
  addEventListener(_type: 'abort', listener: () => void): void {
    this.listeners.add(listener);
  }
  removeEventListener(_type: 'abort', listener: () => void): void {
    this.listeners.delete(listener);
  }
  leave(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    for (const l of [...this.listeners]) l();
  }
  get listenerCount(): number {
    return this.listeners.size;
  }
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('linkSignals', () => {
  it("aborts with the client's reason when the client leaves, running each listener once", () => {
    const client = new Client();
    const a = linkSignals(client, 1_000);
    const heard: unknown[] = [];
    a.signal.addEventListener('abort', () => heard.push(a.signal.reason));
    a.signal.addEventListener('abort', () => heard.push('second'));
    client.leave('client gone');
    client.leave('again');
    a.abort(new Error('later'));
    expect(a.signal.aborted).toBe(true);
    expect(a.signal.reason).toBe('client gone');
    expect(heard).toEqual(['client gone', 'second']);
  });

  it('aborts with a TimeoutError when the overall timeout fires, and not before', () => {
    const a = linkSignals(new Client(), 1_000);
    vi.advanceTimersByTime(999);
    expect(a.signal.aborted).toBe(false);
    vi.advanceTimersByTime(1);
    expect(a.signal.aborted).toBe(true);
    expect(a.signal.reason).toBeInstanceOf(DOMException);
    expect((a.signal.reason as DOMException).name).toBe('TimeoutError');
  });

  it('abort() takes its reason, or an AbortError without one, and stops following the client', () => {
    const client = new Client();
    const a = linkSignals(client, 1_000);
    const reason = new Error('upstream deadline');
    a.abort(reason);
    expect(a.signal.reason).toBe(reason);
    expect(client.listenerCount).toBe(0);

    const b = linkSignals(client, 1_000);
    b.abort();
    expect((b.signal.reason as DOMException).name).toBe('AbortError');
  });

  it('once released, neither the client leaving nor the timer aborts it', () => {
    const client = new Client();
    const a = linkSignals(client, 1_000);
    expect(client.listenerCount).toBe(1);
    a.release();
    expect(client.listenerCount).toBe(0);
    client.leave('client gone');
    vi.advanceTimersByTime(5_000);
    expect(a.signal.aborted).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('is aborted at once when the client has already left, and follows a real AbortSignal too', () => {
    const client = new Client();
    client.leave('gone before');
    const a = linkSignals(client, 1_000);
    expect(a.signal.aborted).toBe(true);
    expect(a.signal.reason).toBe('gone before');

    const ac = new AbortController();
    const b = linkSignals(ac.signal, 1_000);
    ac.abort('request signal');
    expect(b.signal.reason).toBe('request signal');
  });

  it('a removed listener does not run; one added after the abort does not either', () => {
    const a = linkSignals(new Client(), 1_000);
    const heard: string[] = [];
    const removed = () => heard.push('removed');
    a.signal.addEventListener('abort', removed);
    a.signal.addEventListener('abort', () => heard.push('kept'));
    a.signal.removeEventListener('abort', removed);
    a.abort();
    a.signal.addEventListener('abort', () => heard.push('late'));
    expect(heard).toEqual(['kept']);
  });
});
