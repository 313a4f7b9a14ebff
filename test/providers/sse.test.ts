// SSE parser edge cases: line endings split across chunks, multi-line data, comments, blank lines, missing final blank line.
import { describe, expect, it } from 'vitest';
import { parseSse, sseBatches } from '../../src/providers/sse.js';

const enc = new TextEncoder();

async function collect(chunks: Array<string | Uint8Array>): Promise<string[]> {
  async function* src() {
    for (const c of chunks) yield typeof c === 'string' ? enc.encode(c) : c;
  }
  const out: string[] = [];
  for await (const d of parseSse(src())) out.push(d);
  return out;
}

/** Every way of cutting `text` into two chunks must give the same events. */
async function allSplits(text: string): Promise<string[][]> {
  const results: string[][] = [];
  for (let i = 0; i <= text.length; i++) results.push(await collect([text.slice(0, i), text.slice(i)]));
  return results;
}

describe('parseSse', () => {
  it.each([
    ['LF', 'data: {"a":1}\n\ndata: {"b":2}\n\n', ['{"a":1}', '{"b":2}']],
    ['CRLF', 'data: {"a":1}\r\n\r\ndata: {"b":2}\r\n\r\n', ['{"a":1}', '{"b":2}']],
    ['CR only', 'data: x\r\rdata: y\r\r', ['x', 'y']],
    ['multi-line data joins with \\n', 'data: line1\ndata: line2\n\n', ['line1\nline2']],
    ['no space after colon', 'data:{"x":1}\n\n', ['{"x":1}']],
    ['only one leading space is removed', 'data:  two\n\n', [' two']],
    ['comments and keep-alives are ignored', ': keep-alive\n\n: ping\ndata: ok\n\n', ['ok']],
    ['blank lines between events', '\n\n\ndata: a\n\n\n\n\ndata: b\n\n', ['a', 'b']],
    ['event/id/retry fields ignored', 'event: message\nid: 7\nretry: 10\ndata: a\n\n', ['a']],
    ['event without data is skipped', 'event: ping\n\ndata: a\n\n', ['a']],
    ['final event without trailing blank line', 'data: a\n\ndata: last', ['a', 'last']],
    ['[DONE] is just a payload', 'data: [DONE]\n\n', ['[DONE]']],
    ['empty data line', 'data\n\n', ['']],
  ])('%s', async (_name, text, expected) => {
    expect(await collect([text])).toEqual(expected);
  });

  it('gives the same events however the bytes are split (including inside \\r\\n)', async () => {
    const text = ': keep-alive\r\n\r\ndata: {"a":"é"}\r\n\r\ndata: one\r\ndata: two\r\n\r\n';
    for (const r of await allSplits(text)) expect(r).toEqual(['{"a":"é"}', 'one\ntwo']);
  });

  it('decodes a multi-byte character split across byte chunks', async () => {
    const bytes = enc.encode('data: 日本\n\n');
    const out = await collect([bytes.slice(0, 8), bytes.slice(8)]);
    expect(out).toEqual(['日本']);
  });

  it('yields an event before the stream ends (incremental)', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    async function* src() {
      yield enc.encode('data: first\n\n');
      await gate;
      yield enc.encode('data: second\n\n');
    }
    const it = parseSse(src())[Symbol.asyncIterator]();
    expect((await it.next()).value).toBe('first');
    release();
    expect((await it.next()).value).toBe('second');
    expect((await it.next()).done).toBe(true);
  });

  it('handles many small chunks of a large stream', async () => {
    const events = Array.from({ length: 500 }, (_, i) => JSON.stringify({ i, t: 'x'.repeat(i % 17) }));
    const text = events.map((e) => `data: ${e}\n\n`).join('');
    const chunks: string[] = [];
    for (let i = 0; i < text.length; i += 7) chunks.push(text.slice(i, i + 7));
    expect(await collect(chunks)).toEqual(events);
  });

  it('sseBatches groups the events completed by each network chunk', async () => {
    async function* src() {
      yield enc.encode('data: a\n\ndata: b\n\ndata: c');
      yield enc.encode('\n\n: ping\n\n');
      yield enc.encode('data: d');
    }
    const batches: string[][] = [];
    for await (const b of sseBatches(src())) batches.push(b);
    expect(batches).toEqual([['a', 'b'], ['c'], ['d']]);
  });
});
