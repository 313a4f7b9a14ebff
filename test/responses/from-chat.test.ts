// Table tests pinning the Chat Completion → Responses Response translation (non-streaming).
import { describe, expect, it } from 'vitest';
import { chatToResponse, mapUsage } from '../../src/responses/from-chat.js';
import { completion, ctxFor, usage } from './fixtures.js';

describe('chatToResponse', () => {
  it('plain text answer: one completed message item, usage mapped, request echoed', () => {
    const ctx = ctxFor({ input: 'hi', instructions: 'be nice', metadata: { team: 'a' }, temperature: 0.3, max_output_tokens: 99 });
    const r = chatToResponse(completion({ content: 'Hello there' }), ctx);
    expect(r).toMatchObject({
      id: 'resp_test1',
      object: 'response',
      created_at: 1_790_000_000,
      status: 'completed',
      error: null,
      incomplete_details: null,
      model: 'gpt-4o-mini-2024-07-18',
      instructions: 'be nice',
      metadata: { team: 'a' },
      temperature: 0.3,
      top_p: 1,
      max_output_tokens: 99,
      previous_response_id: null,
      parallel_tool_calls: true,
      store: true,
      tools: [],
      tool_choice: 'auto',
      text: { format: { type: 'text' } },
      usage: {
        input_tokens: 120,
        input_tokens_details: { cached_tokens: 64 },
        output_tokens: 45,
        output_tokens_details: { reasoning_tokens: 12 },
        total_tokens: 165,
      },
    });
    expect(r.output).toHaveLength(1);
    expect(r.output[0]).toMatchObject({ type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Hello there', annotations: [] }] });
    expect(r.output[0]?.id).toMatch(/^msg_[0-9a-f]{48}$/);
    expect(r.completed_at).toBeGreaterThanOrEqual(r.created_at);
  });

  it('reasoning_content → a reasoning item with summary text, before the message', () => {
    const r = chatToResponse(completion({ content: '42', reasoning_content: 'Let me think.' }), ctxFor({ input: 'q', reasoning: { effort: 'high' } }));
    expect(r.output.map((o) => o.type)).toEqual(['reasoning', 'message']);
    expect(r.output[0]).toMatchObject({ type: 'reasoning', summary: [{ type: 'summary_text', text: 'Let me think.' }] });
    expect(r.output[0]?.id).toMatch(/^rs_/);
    expect(r.reasoning).toEqual({ effort: 'high', summary: null });
  });

  it('tool calls → function_call items (call_id kept, fresh fc_ ids), no empty message', () => {
    const r = chatToResponse(
      completion(
        {
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{}' } },
          ],
        },
        'tool_calls',
      ),
      ctxFor({ input: 'q', tools: [{ type: 'function', name: 'get_weather' }, { type: 'function', name: 'get_time', strict: true }] }),
    );
    expect(r.status).toBe('completed');
    expect(r.output).toMatchObject([
      { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}', status: 'completed' },
      { type: 'function_call', call_id: 'call_2', name: 'get_time', arguments: '{}', status: 'completed' },
    ]);
    expect(r.output[0]?.id).toMatch(/^fc_/);
    expect(r.output[0]?.id).not.toBe(r.output[1]?.id);
    expect(r.tools).toEqual([
      { type: 'function', name: 'get_weather', description: null, parameters: null, strict: null },
      { type: 'function', name: 'get_time', description: null, parameters: null, strict: true },
    ]);
  });

  it('text and tool calls together: message first, then function calls', () => {
    const r = chatToResponse(
      completion({ content: 'Checking.', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }] }, 'tool_calls'),
      ctxFor({ input: 'q', tools: [{ type: 'function', name: 'f' }] }),
    );
    expect(r.output.map((o) => o.type)).toEqual(['message', 'function_call']);
  });

  it.each([
    { finish: 'length' as const, reason: 'max_output_tokens' },
    { finish: 'content_filter' as const, reason: 'content_filter' },
  ])('finish_reason $finish → status incomplete with reason $reason', ({ finish, reason }) => {
    const r = chatToResponse(completion({ content: 'partial' }, finish), ctxFor({ input: 'q', max_output_tokens: 5 }));
    expect(r.status).toBe('incomplete');
    expect(r.incomplete_details).toEqual({ reason });
    expect(r.completed_at).toBeNull();
    expect(r.output[0]).toMatchObject({ type: 'message', status: 'incomplete' });
  });

  it('refusal → a refusal content part', () => {
    const r = chatToResponse(completion({ content: null, refusal: 'I cannot help with that.' }), ctxFor({ input: 'q' }));
    expect(r.output).toMatchObject([{ type: 'message', content: [{ type: 'refusal', refusal: 'I cannot help with that.' }] }]);
  });

  it('an empty answer still yields a message item with empty text', () => {
    const r = chatToResponse(completion({ content: null }), ctxFor({ input: 'q' }));
    expect(r.output).toMatchObject([{ type: 'message', content: [{ type: 'output_text', text: '' }] }]);
  });

  it('echoes store:false, previous_response_id and json_schema text format', () => {
    const format = { type: 'json_schema', name: 'w', schema: { type: 'object' }, strict: true };
    const r = chatToResponse(completion({ content: '{}' }), ctxFor({ input: 'q', store: false, previous_response_id: 'resp_prev', text: { format } }));
    expect(r.store).toBe(false);
    expect(r.previous_response_id).toBe('resp_prev');
    expect(r.text.format).toEqual(format);
  });
});

describe('mapUsage', () => {
  it('fills missing details with zeros and keeps totals', () => {
    expect(mapUsage({ prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 })).toEqual({
      input_tokens: 10,
      input_tokens_details: { cached_tokens: 0, cache_write_tokens: 0 },
      output_tokens: 3,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 13,
    });
    expect(mapUsage(null)).toBeNull();
    expect(mapUsage(usage)?.input_tokens_details.cached_tokens).toBe(64);
  });
});
