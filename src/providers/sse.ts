// Incremental Server-Sent Events parser over a byte stream: yields each event's `data` payload as soon as it is complete.

/**
 * Follows the WHATWG event-stream rules that matter for LLM APIs: lines end in `\n`, `\r\n` or `\r` (also split across
 * chunks), an empty line dispatches the event, several `data:` lines join with `\n`, one leading space after the colon
 * is dropped, comment lines (`: keep-alive`) and other fields (`event:`, `id:`, `retry:`) are ignored, and events without
 * data are skipped. A last event not followed by a blank line is still yielded at the end (some servers omit it).
 */
export async function* parseSse(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = '';
  let data: string[] = [];
  // A `\r` at the end of a chunk may be the first half of `\r\n`: remember to skip a `\n` starting the next chunk.
  let skipLf = false;

  for await (const chunk of source) {
    const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    if (text.length === 0) continue;
    buf = buf.length === 0 ? text : buf + text;
    let start = 0;
    if (skipLf) {
      if (buf.charCodeAt(0) === 10) start = 1;
      skipLf = false;
    }
    const len = buf.length;
    let i = start;
    while (i < len) {
      const c = buf.charCodeAt(i);
      if (c !== 10 && c !== 13) {
        i++;
        continue;
      }
      const line = buf.slice(start, i);
      if (c === 13) {
        if (i + 1 < len) {
          if (buf.charCodeAt(i + 1) === 10) i++;
        } else skipLf = true;
      }
      i++;
      start = i;
      if (line.length === 0) {
        if (data.length > 0) {
          yield data.length === 1 ? data[0] : data.join('\n');
          data = [];
        }
      } else {
        const value = fieldValue(line);
        if (value !== null) data.push(value);
      }
    }
    buf = start >= len ? '' : buf.slice(start);
  }
  const tail = decoder.decode();
  if (tail.length > 0) buf += tail;
  if (buf.length > 0) {
    const value = fieldValue(buf);
    if (value !== null) data.push(value);
  }
  if (data.length > 0) yield data.join('\n');
}

/** The value of a `data` field line, or null for comments and other fields. */
function fieldValue(line: string): string | null {
  // Fast path: nearly every line of an LLM stream is `data: {...}`.
  if (line.startsWith('data:')) return line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
  if (line === 'data') return '';
  return null;
}
