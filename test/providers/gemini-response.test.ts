// Table tests: Gemini answers and streams → OpenAI completions and chunks (text, thoughts, tool calls, finish reasons, usage).
import { describe, expect, it } from 'vitest';
import type { ChatChunk } from '../../src/api/openai.js';
import { signatureFromToolCallId } from '../../src/providers/gemini-ids.js';
import { mapFinishReason, toChatCompletion, usageFromGemini } from '../../src/providers/gemini-response.js';
import { translateGeminiStream } from '../../src/providers/gemini-stream.js';
import type { GeminiResponse } from '../../src/providers/gemini-wire.js';
import { UpstreamError } from '../../src/providers/types.js';

const opts = { model: 'gemini-2.5-flash', includeThoughts: true, created: 1_700_000_000 };

describe('finish reasons', () => {
  it.each([
    ['STOP', false, 'stop'],
    ['STOP', true, 'tool_calls'],
    ['MAX_TOKENS', false, 'length'],
    ['MAX_TOKENS', true, 'length'],
    ['SAFETY', false, 'content_filter'],
    ['RECITATION', false, 'content_filter'],
    ['BLOCKLIST', false, 'content_filter'],
    ['PROHIBITED_CONTENT', false, 'content_filter'],
    ['SPII', false, 'content_filter'],
    ['LANGUAGE', false, 'content_filter'],
    ['IMAGE_SAFETY', false, 'content_filter'],
    ['OTHER', false, 'content_filter'],
    ['MALFORMED_FUNCTION_CALL', false, 'stop'],
    ['UNEXPECTED_TOOL_CALL', false, 'stop'],
    ['TOO_MANY_TOOL_CALLS', false, 'stop'],
    ['SOMETHING_NEW', false, 'stop'],
  ])('%s (tool calls: %s) → %s', (reason, calls, expected) => {
    expect(mapFinishReason(reason, calls)).toBe(expected);
  });
  it('no finishReason yet → null', () => expect(mapFinishReason(undefined, false)).toBeNull());
});

describe('usage', () => {
  it('prompt includes cached; completion = candidates + thoughts', () => {
    expect(
      usageFromGemini({ promptTokenCount: 100, cachedContentTokenCount: 60, candidatesTokenCount: 20, thoughtsTokenCount: 30, totalTokenCount: 150 }),
    ).toEqual({
      prompt_tokens: 100,
      completion_tokens: 50,
      total_tokens: 150,
      prompt_tokens_details: { cached_tokens: 60 },
      completion_tokens_details: { reasoning_tokens: 30 },
    });
  });
  it('tool-use prompt tokens are input', () => {
    expect(usageFromGemini({ promptTokenCount: 10, toolUsePromptTokenCount: 5, candidatesTokenCount: 1 })?.prompt_tokens).toBe(15);
  });
});

describe('non-stream answer', () => {
  const answer: GeminiResponse = {
    responseId: 'resp-1',
    modelVersion: 'gemini-2.5-flash-001',
    candidates: [
      {
        index: 0,
        finishReason: 'STOP',
        content: {
          role: 'model',
          parts: [
            { text: 'Let me think', thought: true },
            { text: 'Checking. ' },
            { functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: 'sig-A' },
            { functionCall: { name: 'get_time', args: {} } },
          ],
        },
      },
    ],
    usageMetadata: { promptTokenCount: 12, candidatesTokenCount: 8, thoughtsTokenCount: 4, totalTokenCount: 24 },
  };

  it('text, reasoning, parallel tool calls with signatures, tool_calls finish, usage', () => {
    const c = toChatCompletion(answer, opts);
    expect(c).not.toBeNull();
    if (!c) return;
    expect(c.id).toBe('chatcmpl-resp-1');
    expect(c.model).toBe('gemini-2.5-flash-001');
    expect(c.created).toBe(opts.created);
    const choice = c.choices[0];
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBe('Checking. ');
    expect(choice.message.reasoning_content).toBe('Let me think');
    const calls = choice.message.tool_calls ?? [];
    expect(calls.map((t) => [t.type, t.function.name, t.function.arguments])).toEqual([
      ['function', 'get_weather', '{"city":"Paris"}'],
      ['function', 'get_time', '{}'],
    ]);
    expect(signatureFromToolCallId(calls[0].id)).toBe('sig-A');
    expect(signatureFromToolCallId(calls[1].id)).toBeUndefined();
    expect(new Set(calls.map((t) => t.id)).size).toBe(2);
    expect(c.usage?.completion_tokens).toBe(12);
    expect(c.usage?.completion_tokens_details?.reasoning_tokens).toBe(4);
  });

  it('thoughts are dropped when the request did not ask for reasoning; content null with only calls', () => {
    const only: GeminiResponse = { candidates: [{ finishReason: 'STOP', content: { parts: [{ text: 'hmm', thought: true }, { functionCall: { name: 'f' } }] } }] };
    const c = toChatCompletion(only, { ...opts, includeThoughts: false });
    expect(c?.choices[0].message.reasoning_content).toBeUndefined();
    expect(c?.choices[0].message.content).toBeNull();
  });

  it('several candidates → several choices', () => {
    const c = toChatCompletion(
      {
        candidates: [
          { index: 0, finishReason: 'STOP', content: { parts: [{ text: 'a' }] } },
          { index: 1, finishReason: 'MAX_TOKENS', content: { parts: [{ text: 'b' }] } },
        ],
      },
      opts,
    );
    expect(c?.choices.map((x) => [x.index, x.message.content, x.finish_reason])).toEqual([
      [0, 'a', 'stop'],
      [1, 'b', 'length'],
    ]);
  });

  it('blocked prompt with no candidates → empty content, content_filter', () => {
    const c = toChatCompletion({ promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: 5, totalTokenCount: 5 } }, opts);
    expect(c?.choices).toEqual([{ index: 0, message: { role: 'assistant', content: '', refusal: null }, finish_reason: 'content_filter', logprobs: null }]);
    expect(c?.usage?.prompt_tokens).toBe(5);
  });

  it('neither candidates nor block reason → null (unusable)', () => {
    expect(toChatCompletion({}, opts)).toBeNull();
  });
});

async function run(events: unknown[], includeThoughts = true): Promise<ChatChunk[]> {
  async function* src() {
    for (const e of events) yield [JSON.stringify(e)];
  }
  const out: ChatChunk[] = [];
  const errorFromEvent = () => new UpstreamError({ provider: 'gemini', kind: 'stream', message: 'boom' });
  for await (const c of translateGeminiStream(src(), { model: 'm', includeThoughts, created: 42, errorFromEvent })) out.push(c);
  return out;
}

describe('stream', () => {
  it('role first, same id/created, thoughts then text, finish chunk, final usage chunk', async () => {
    const chunks = await run([
      { responseId: 'r9', candidates: [{ content: { parts: [{ text: 'think', thought: true }] } }] },
      { responseId: 'r9', candidates: [{ content: { parts: [{ text: 'Hel' }] } }] },
      { responseId: 'r9', candidates: [{ content: { parts: [{ text: 'lo' }] }, finishReason: 'STOP' }], usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 2, thoughtsTokenCount: 1 } },
    ]);
    expect(new Set(chunks.map((c) => c.id))).toEqual(new Set(['chatcmpl-r9']));
    expect(new Set(chunks.map((c) => c.created))).toEqual(new Set([42]));
    expect(chunks.map((c) => c.choices[0]?.delta ?? null)).toEqual([
      { role: 'assistant', content: '' },
      { reasoning_content: 'think' },
      { content: 'Hel' },
      { content: 'lo' },
      {},
      null,
    ]);
    expect(chunks[4].choices[0].finish_reason).toBe('stop');
    expect(chunks[5].choices).toEqual([]);
    expect(chunks[5].usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 3, completion_tokens_details: { reasoning_tokens: 1 } });
  });

  it('streamed tool calls → tool_calls deltas with increasing index across events; finish tool_calls', async () => {
    const chunks = await run([
      { responseId: 'r1', candidates: [{ content: { parts: [{ functionCall: { name: 'a', args: { x: 1 } }, thoughtSignature: 'S1' }] } }] },
      { responseId: 'r1', candidates: [{ content: { parts: [{ functionCall: { name: 'b', args: {} } }] }, finishReason: 'STOP' }], usageMetadata: { promptTokenCount: 1 } },
    ]);
    const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(deltas.map((d) => [d.index, d.type, d.function?.name, d.function?.arguments])).toEqual([
      [0, 'function', 'a', '{"x":1}'],
      [1, 'function', 'b', '{}'],
    ]);
    expect(signatureFromToolCallId(deltas[0].id ?? '')).toBe('S1');
    expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0].finish_reason).toBe('tool_calls');
  });

  it('thoughts are not streamed unless asked for', async () => {
    const chunks = await run([{ candidates: [{ content: { parts: [{ text: 't', thought: true }, { text: 'x' }] }, finishReason: 'STOP' }] }], false);
    expect(chunks.some((c) => c.choices[0]?.delta.reasoning_content)).toBe(false);
  });

  it('blocked prompt → role chunk and content_filter finish', async () => {
    const chunks = await run([{ promptFeedback: { blockReason: 'PROHIBITED_CONTENT' }, usageMetadata: { promptTokenCount: 4 } }]);
    expect(chunks.map((c) => (c.choices.length === 0 ? 'usage' : c.choices[0].finish_reason))).toEqual([null, 'content_filter', 'usage']);
  });

  it('an error event → UpstreamError kind stream', async () => {
    await expect(run([{ candidates: [{ content: { parts: [{ text: 'a' }] } }] }, { error: { code: 500, message: 'x', status: 'INTERNAL' } }])).rejects.toMatchObject({
      kind: 'stream',
    });
  });

  it('a stream that stops before any finishReason → UpstreamError kind stream', async () => {
    await expect(run([{ candidates: [{ content: { parts: [{ text: 'a' }] } }] }])).rejects.toMatchObject({ kind: 'stream' });
  });

  it('unparseable event → invalid_response', async () => {
    async function* src() {
      yield ['{not json'];
    }
    const it = translateGeminiStream(src(), { model: 'm', includeThoughts: false, errorFromEvent: () => new UpstreamError({ provider: 'gemini', kind: 'stream', message: '' }) });
    await expect(it.next()).rejects.toMatchObject({ kind: 'invalid_response' });
  });
});
