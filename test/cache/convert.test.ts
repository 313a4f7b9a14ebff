// Format conversion of cached answers: a stream read as one completion, a completion replayed as chunks, and back.
import { describe, expect, it } from 'vitest';
import type { ChatChunk, ChatCompletion } from '../../src/api/openai.js';
import { chunksToCompletion, completionToChunks, finishedCleanly, streamFinishReasons } from '../../src/cache/convert.js';

const completion: ChatCompletion = {
  id: 'chatcmpl-9',
  object: 'chat.completion',
  created: 1_764_000_000,
  model: 'deepseek-v4-flash',
  choices: [
    {
      index: 0,
      message: {
        role: 'assistant',
        content: 'Calling the tool.',
        refusal: null,
        reasoning_content: 'I should look it up.',
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"x"}' } }],
      },
      finish_reason: 'tool_calls',
      logprobs: null,
    },
  ],
  usage: { prompt_tokens: 30, completion_tokens: 12, total_tokens: 42 },
};

describe('cached answer conversion', () => {
  it('replays a completion as chunks that add up to the same completion', () => {
    const chunks = completionToChunks(completion);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: completion.usage });
    expect(chunks.filter((c) => c.choices[0]?.finish_reason).map((c) => c.choices[0].finish_reason)).toEqual(['tool_calls']);
    expect(chunksToCompletion(chunks)).toEqual(completion);
  });

  it('joins streamed deltas per choice, tool call arguments by index', () => {
    const head = { id: 'c', object: 'chat.completion.chunk' as const, created: 5, model: 'm' };
    const chunks: ChatChunk[] = [
      { ...head, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] },
      { ...head, choices: [{ index: 0, delta: { content: 'Hel' }, finish_reason: null }] },
      { ...head, choices: [{ index: 0, delta: { content: 'lo' }, finish_reason: null }] },
      { ...head, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 't1', type: 'function', function: { name: 'f', arguments: '{"a"' } }] }, finish_reason: null }] },
      { ...head, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }, finish_reason: 'tool_calls' }] },
      { ...head, choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } },
    ];
    const c = chunksToCompletion(chunks);
    expect(c.choices[0].message.content).toBe('Hello');
    expect(c.choices[0].message.tool_calls).toEqual([{ id: 't1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }]);
    expect(c.usage?.total_tokens).toBe(7);
    expect(streamFinishReasons(chunks)).toEqual(['tool_calls']);
  });

  it('keeps only cleanly finished answers', () => {
    expect(finishedCleanly(['stop'])).toBe(true);
    expect(finishedCleanly(['stop', 'tool_calls'])).toBe(true);
    expect(finishedCleanly(['length'])).toBe(false);
    expect(finishedCleanly(['stop', 'content_filter'])).toBe(false);
    expect(finishedCleanly([null])).toBe(false);
    expect(finishedCleanly([])).toBe(false);
  });
});
