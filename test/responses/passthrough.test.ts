// Native OpenAI pass-through with gateway-held state: the body sent upstream and the echo restored for the client.
import { describe, expect, it } from 'vitest';
import { chatUsageOf, mapUsage } from '../../src/responses/from-chat.js';
import { passthroughBody, restoreEcho } from '../../src/responses/passthrough.js';
import type { ResponseItem } from '../../src/responses/schema.js';
import { req, usage } from './fixtures.js';

const history: ResponseItem[] = [
  { type: 'message', role: 'user', content: 'Weather in Paris?' },
  { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'need tool' }] },
  { type: 'reasoning', id: 'rs_2', summary: [], encrypted_content: 'gAAAA' },
  { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'get_weather', arguments: '{}' },
];

describe('passthroughBody', () => {
  it('expands history into input, drops ids and unreplayable reasoning, never stores upstream, uses the upstream model', () => {
    const r = req({
      model: 'gpt-4o-mini',
      previous_response_id: 'resp_prev',
      store: true,
      instructions: 'be brief',
      input: [{ type: 'function_call_output', call_id: 'call_1', output: '18C' }],
      tools: [{ type: 'function', name: 'get_weather' }],
      stream: true,
      metadata: { a: 'b' },
    });
    const body = passthroughBody(r, history, 'gpt-4o-mini-2024-07-18');
    expect(body).toEqual({
      model: 'gpt-4o-mini-2024-07-18',
      instructions: 'be brief',
      tools: [{ type: 'function', name: 'get_weather' }],
      stream: true,
      metadata: { a: 'b' },
      store: false,
      input: [
        { type: 'message', role: 'user', content: 'Weather in Paris?' },
        { type: 'reasoning', summary: [], encrypted_content: 'gAAAA' },
        { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{}' },
        { type: 'function_call_output', call_id: 'call_1', output: '18C' },
      ],
    });
  });

  it('a string input without history becomes one user message item', () => {
    expect(passthroughBody(req({ input: 'hi' }), [], 'm').input).toEqual([{ type: 'message', role: 'user', content: 'hi' }]);
  });
});

describe('restoreEcho', () => {
  it('puts back the client’s store and previous_response_id', () => {
    const upstream: Record<string, unknown> = { id: 'resp_x', store: false, previous_response_id: null };
    expect(restoreEcho(upstream, req({ input: 'x', previous_response_id: 'resp_prev' }))).toMatchObject({ store: true, previous_response_id: 'resp_prev' });
    expect(restoreEcho({ store: false }, req({ input: 'x', store: false }))).toMatchObject({ store: false, previous_response_id: null });
  });
});

describe('chatUsageOf', () => {
  it('is the inverse of mapUsage for the counted fields', () => {
    const back = chatUsageOf(mapUsage(usage) ?? (undefined as never));
    expect(back).toEqual({
      prompt_tokens: 120,
      completion_tokens: 45,
      total_tokens: 165,
      prompt_tokens_details: { cached_tokens: 64 },
      completion_tokens_details: { reasoning_tokens: 12 },
    });
  });
});
