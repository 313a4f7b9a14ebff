// Incremental Server-Sent Events parser over a byte stream: yields each event's `data` payload as soon as it is complete.

/**
 * Follows the WHATWG event-stream rules that matter for LLM APIs: lines end in `\n`, `\r\n` or `\r` (also split across
 * chunks), an empty line dispatches the event, several `data:` lines join with `\n`, one leading space after the colon
 * is dropped, comment lines (`: keep-alive`) and other fields (`event:`, `id:`, `retry:`) are ignored, and events without
 * data are skipped. A last event not followed by a blank line is still given at the end (some servers omit it).
 */
export interface SseDecoder {
  /** Feeds bytes (or text); returns the payloads completed by them, in order. */
  push(chunk: Uint8Array | string): string[];
  /** Flushes what is left at the end of the stream. */
  end(): string[];
}

export function createSseDecoder(): SseDecoder {
  const decoder = new TextDecoder();
  let buf = '';
  let data: string[] = [];
  // A `\r` at the end of a chunk may be the first half of `\r\n`: skip a `\n` starting the next chunk.
  let skipLf = false;

  function line(text: string, out: string[]): void {
    if (text.length === 0) {
      if (data.length > 0) {
        out.push(data.length === 1 ? data[0] : data.join('\n'));
        data = [];
      }
      return;
    }
    const value = fieldValue(text);
    if (value !== null) data.push(value);
  }

  function push(chunk: Uint8Array | string): string[] {
    const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    const out: string[] = [];
    if (text.length === 0) return out;
    buf = buf.length === 0 ? text : buf + text;
    let pos = 0;
    if (skipLf) {
      if (buf.charCodeAt(0) === 10) pos = 1;
      skipLf = false;
    }
    const len = buf.length;
    // Native indexOf scans beat a per-character loop; each search result is reused until passed.
    let lf = buf.indexOf('\n', pos);
    let cr = buf.indexOf('\r', pos);
    while (lf !== -1 || cr !== -1) {
      if (lf !== -1 && lf < pos) lf = buf.indexOf('\n', pos);
      if (cr !== -1 && cr < pos) cr = buf.indexOf('\r', pos);
      if (lf === -1 && cr === -1) break;
      const eol = lf === -1 ? cr : cr === -1 ? lf : Math.min(lf, cr);
      line(buf.slice(pos, eol), out);
      if (eol === cr) {
        if (eol + 1 < len) pos = buf.charCodeAt(eol + 1) === 10 ? eol + 2 : eol + 1;
        else {
          pos = eol + 1;
          skipLf = true;
        }
      } else pos = eol + 1;
    }
    buf = pos >= len ? '' : buf.slice(pos);
    return out;
  }

  function end(): string[] {
    const out: string[] = [];
    const tail = decoder.decode();
    if (tail.length > 0) buf += tail;
    if (buf.length > 0) line(buf, out);
    buf = '';
    if (data.length > 0) out.push(data.join('\n'));
    data = [];
    return out;
  }

  return { push, end };
}

/** Payloads grouped per network chunk: one await per chunk instead of one per event (the hot path of streaming). */
export async function* sseBatches(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<string[]> {
  const dec = createSseDecoder();
  for await (const chunk of source) {
    const batch = dec.push(chunk);
    if (batch.length > 0) yield batch;
  }
  const last = dec.end();
  if (last.length > 0) yield last;
}

/** The decoder as an async generator of payloads. */
export async function* parseSse(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const dec = createSseDecoder();
  for await (const chunk of source) yield* dec.push(chunk);
  yield* dec.end();
}

/** The value of a `data` field line, or null for comments and other fields. */
function fieldValue(line: string): string | null {
  // Fast path: nearly every line of an LLM stream is `data: {...}`.
  if (line.startsWith('data:')) return line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
  if (line === 'data') return '';
  return null;
}
