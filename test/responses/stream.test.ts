// Pins the chat chunk stream → Responses stream event translation: event order, indexes, sequence numbers, terminal events.
import { describe, expect, it } from 'vitest';
import type { ChatChunk } from '../../src/api/openai.js';
import { UpstreamError } from '../../src/providers/types.js';
import {
  chatStreamToResponseEvents,
  collectResponse,
  formatSse,
  tapFinalResponse,
} from '../../src/responses/stream.js';
import type { ResponseObject, ResponseStreamEvent } from '../../src/responses/types.js';
import { chunk, ctxFor, fromArray, usageChunk } from './fixtures.js';

async function run(chunks: ChatChunk[], failWith?: unknown, body: Record<string, unknown> = { input: 'q' }): Promise<ResponseStreamEvent[]> {
  const out: ResponseStreamEvent[] = [];
  for await (const e of chatStreamToResponseEvents(fromArray(chunks, failWith), ctxFor({ ...body, stream: true }))) out.push(e);
  return out;
}

function types(events: ResponseStreamEvent[]): string[] {
  return events.map((e) => e.type);
}

function last<T>(xs: T[]): T {
  const x = xs[xs.length - 1];
  if (x === undefined) throw new Error('empty');
  return x;
}

function expectSequenced(events: ResponseStreamEvent[]): void {
  expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
}

describe('chatStreamToResponseEvents', () => {
  it('text: lifecycle, one message with one output_text part, deltas as they came, usage on completed', async () => {
    const events = await run([chunk({ role: 'assistant', content: '' }), chunk({ content: 'Hel' }), chunk({ content: 'lo' }), chunk({}, 'stop'), usageChunk()]);
    expect(types(events)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expectSequenced(events);
    const [created, , added, partAdded, d1, d2, textDone, , itemDone, completed] = events;
    expect(created).toMatchObject({ response: { id: 'resp_test1', status: 'in_progress', output: [], usage: null } });
    expect(added).toMatchObject({ output_index: 0, item: { type: 'message', status: 'in_progress', role: 'assistant', content: [] } });
    const itemId = added?.type === 'response.output_item.added' ? added.item.id : '';
    expect(partAdded).toMatchObject({ item_id: itemId, output_index: 0, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } });
    expect(d1).toMatchObject({ item_id: itemId, output_index: 0, content_index: 0, delta: 'Hel', logprobs: [] });
    expect(d2).toMatchObject({ delta: 'lo' });
    expect(textDone).toMatchObject({ text: 'Hello', logprobs: [] });
    expect(itemDone).toMatchObject({ item: { id: itemId, status: 'completed', content: [{ type: 'output_text', text: 'Hello' }] } });
    expect(completed).toMatchObject({
      response: {
        status: 'completed',
        output: [{ type: 'message', id: itemId, content: [{ text: 'Hello' }] }],
        usage: { input_tokens: 120, input_tokens_details: { cached_tokens: 64 }, output_tokens: 45, output_tokens_details: { reasoning_tokens: 12 }, total_tokens: 165 },
      },
    });
  });

  it('reasoning then text: a reasoning item with a summary part, closed before the message opens', async () => {
    const events = await run([
      chunk({ role: 'assistant', reasoning_content: 'Think ' }),
      chunk({ reasoning_content: 'hard.' }),
      chunk({ content: '42' }),
      chunk({}, 'stop'),
      usageChunk(),
    ]);
    expect(types(events)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.reasoning_summary_part.added',
      'response.reasoning_summary_text.delta',
      'response.reasoning_summary_text.delta',
      'response.reasoning_summary_text.done',
      'response.reasoning_summary_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expectSequenced(events);
    expect(events[2]).toMatchObject({ output_index: 0, item: { type: 'reasoning', summary: [] } });
    expect(events[3]).toMatchObject({ output_index: 0, summary_index: 0, part: { type: 'summary_text', text: '' } });
    expect(events[6]).toMatchObject({ text: 'Think hard.' });
    expect(events[9]).toMatchObject({ output_index: 1, item: { type: 'message' } });
    expect(last(events)).toMatchObject({
      response: { output: [{ type: 'reasoning', summary: [{ type: 'summary_text', text: 'Think hard.' }] }, { type: 'message', content: [{ text: '42' }] }] },
    });
  });

  it('tool calls: one function_call item per call, argument deltas, each closed before the next opens', async () => {
    const events = await run([
      chunk({ role: 'assistant', tool_calls: [{ index: 0, id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
      chunk({ tool_calls: [{ index: 1, id: 'call_b', type: 'function', function: { name: 'get_time', arguments: '{}' } }] }),
      chunk({}, 'tool_calls'),
      usageChunk(),
    ]);
    expect(types(events)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expectSequenced(events);
    expect(events[2]).toMatchObject({ output_index: 0, item: { type: 'function_call', call_id: 'call_a', name: 'get_weather', arguments: '', status: 'in_progress' } });
    expect(events[5]).toMatchObject({ output_index: 0, name: 'get_weather', arguments: '{"city":"Paris"}' });
    expect(events[7]).toMatchObject({ output_index: 1, item: { call_id: 'call_b', name: 'get_time' } });
    expect(last(events)).toMatchObject({
      type: 'response.completed',
      response: {
        status: 'completed',
        output: [
          { type: 'function_call', call_id: 'call_a', arguments: '{"city":"Paris"}', status: 'completed' },
          { type: 'function_call', call_id: 'call_b', arguments: '{}', status: 'completed' },
        ],
      },
    });
  });

  it('text then a tool call: the message is closed before the function_call item is added', async () => {
    const events = await run([
      chunk({ content: 'Let me check.' }),
      chunk({ tool_calls: [{ index: 0, id: 'c1', function: { name: 'f', arguments: '{}' } }] }),
      chunk({}, 'tool_calls'),
      usageChunk(),
    ]);
    const i = types(events).indexOf('response.function_call_arguments.delta');
    expect(types(events).slice(i - 2, i)).toEqual(['response.output_item.done', 'response.output_item.added']);
    expect(events[i - 2]).toMatchObject({ output_index: 0, item: { type: 'message' } });
    expect(events[i - 1]).toMatchObject({ output_index: 1, item: { type: 'function_call' } });
  });

  it('finish_reason length: response.incomplete with max_output_tokens, items incomplete', async () => {
    const events = await run([chunk({ content: 'cut' }), chunk({}, 'length'), usageChunk()], undefined, { input: 'q', max_output_tokens: 16 });
    const end = last(events);
    expect(end.type).toBe('response.incomplete');
    expect(end).toMatchObject({ response: { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, output: [{ status: 'incomplete' }], usage: { output_tokens: 45 } } });
  });

  it('refusal deltas: a refusal content part', async () => {
    const events = await run([chunk({ refusal: 'No' }), chunk({ refusal: '.' }), chunk({}, 'stop'), usageChunk()]);
    expect(types(events).slice(2)).toEqual([
      'response.output_item.added',
      'response.content_part.added',
      'response.refusal.delta',
      'response.refusal.delta',
      'response.refusal.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(last(events)).toMatchObject({ response: { output: [{ content: [{ type: 'refusal', refusal: 'No.' }] }] } });
  });

  it('iterator error mid-stream: response.failed (with error and partial output), then an error event', async () => {
    const boom = new UpstreamError({ provider: 'deepseek', kind: 'stream', message: 'upstream cut the stream', status: 502 });
    const events = await run([chunk({ content: 'Hi' })], boom);
    expect(types(events)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.failed',
      'error',
    ]);
    expectSequenced(events);
    expect(events[5]).toMatchObject({
      response: { status: 'failed', error: { code: 'server_error', message: 'upstream cut the stream' }, output: [{ type: 'message', status: 'incomplete' }] },
    });
    expect(events[6]).toMatchObject({ type: 'error', code: 'server_error', message: 'upstream cut the stream', error: { code: 'server_error' } });
  });

  it('an answer with no content still has one (empty) message, as in the non-stream path', async () => {
    const events = await run([chunk({ role: 'assistant', content: '' }), chunk({}, 'stop'), usageChunk()]);
    expect(types(events).slice(2)).toEqual([
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(last(events)).toMatchObject({ response: { output: [{ type: 'message', content: [{ type: 'output_text', text: '' }] }] } });
  });

  it('a non-gateway error does not leak its message', async () => {
    const events = await run([], new Error('secret internal detail'));
    expect(JSON.stringify(events)).not.toContain('secret internal detail');
    expect(last(events)).toMatchObject({ type: 'error', code: 'server_error' });
  });

  it('yields events as chunks arrive, not at the end', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    async function* source(): AsyncGenerator<ChatChunk> {
      yield chunk({ content: 'first' });
      await gate;
      yield chunk({}, 'stop');
      yield usageChunk();
    }
    const it = chatStreamToResponseEvents(source(), ctxFor({ input: 'q' }))[Symbol.asyncIterator]();
    const seen: string[] = [];
    while (!seen.includes('response.output_text.delta')) {
      const next = await it.next();
      if (next.done) break;
      seen.push(next.value.type);
    }
    expect(seen).toContain('response.output_text.delta');
    release();
    while (!(await it.next()).done);
  });

  it('ignores choices other than index 0 and keeps the last usage', async () => {
    const other: ChatChunk = { ...chunk({ content: 'other' }), choices: [{ index: 1, delta: { content: 'other' }, finish_reason: null }] };
    const events = await run([chunk({ content: 'a' }), other, chunk({}, 'stop'), usageChunk({ prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 })]);
    const final = await collectResponse(fromArray(events));
    expect(final.output).toMatchObject([{ content: [{ text: 'a' }] }]);
    expect(final.usage?.total_tokens).toBe(3);
  });
});

describe('stream helpers', () => {
  it('formatSse writes an event line, one data line and a blank line', async () => {
    const [created] = await run([chunk({}, 'stop'), usageChunk()]);
    if (!created) throw new Error('no event');
    const frame = formatSse(created);
    expect(frame.startsWith('event: response.created\ndata: {')).toBe(true);
    expect(frame.endsWith('}\n\n')).toBe(true);
    expect(frame.split('\n')).toHaveLength(4);
    expect(JSON.parse(frame.split('\n')[1]?.slice('data: '.length) ?? '')).toEqual(created);
  });

  it('tapFinalResponse passes every event through and reports the terminal response once', async () => {
    const events = await run([chunk({ content: 'x' }), chunk({}, 'stop'), usageChunk()]);
    const finals: ResponseObject[] = [];
    const passed: ResponseStreamEvent[] = [];
    for await (const e of tapFinalResponse(fromArray(events), (r) => finals.push(r))) passed.push(e);
    expect(passed).toEqual(events);
    expect(finals).toHaveLength(1);
    expect(finals[0]?.status).toBe('completed');
  });

  it('collectResponse returns the failed response of a failed stream and throws on a stream without a terminal event', async () => {
    const failed = await run([], new UpstreamError({ provider: 'openai', kind: 'stream', message: 'x' }));
    expect((await collectResponse(fromArray(failed))).status).toBe('failed');
    await expect(collectResponse(fromArray(failed.slice(0, 2)))).rejects.toThrow(/terminal/);
  });
});
