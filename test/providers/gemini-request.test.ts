// Table tests: OpenAI chat request → Gemini generateContent body (messages, tools, parameters, reasoning, rejections).
import { describe, expect, it } from 'vitest';
import { chatRequestSchema, type ChatRequest } from '../../src/api/openai.js';
import { GatewayError } from '../../src/errors.js';
import { makeToolCallId, signatureFromToolCallId } from '../../src/providers/gemini-ids.js';
import { buildGeminiRequest, FOREIGN_CALL_SIGNATURE, thinkingConfigFor } from '../../src/providers/gemini-request.js';

const noFetch = async (_url: string, param: string): Promise<never> => {
  throw new GatewayError('unsupported_parameter', 'no fetch in this test', { param });
};

function req(extra: Record<string, unknown>): ChatRequest {
  return chatRequestSchema.parse({ model: 'gemini-2.5-flash', messages: [{ role: 'user', content: 'hi' }], ...extra });
}

async function build(extra: Record<string, unknown>, model = 'gemini-2.5-flash') {
  return buildGeminiRequest(req(extra), { model, resolveImageUrl: noFetch });
}

async function rejection(extra: Record<string, unknown>, model?: string): Promise<GatewayError> {
  try {
    await build(extra, model);
  } catch (e) {
    if (e instanceof GatewayError) return e;
    throw e;
  }
  throw new Error('expected a GatewayError');
}

describe('messages', () => {
  it('system and developer → systemInstruction; assistant → model; user parts', async () => {
    const { body } = await build({
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'developer', content: [{ type: 'text', text: 'use French' }] },
        { role: 'user', content: 'bonjour' },
        { role: 'assistant', content: 'salut' },
        { role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] },
      ],
    });
    expect(body.systemInstruction).toEqual({ parts: [{ text: 'be brief' }, { text: 'use French' }] });
    expect(body.contents).toEqual([
      { role: 'user', parts: [{ text: 'bonjour' }] },
      { role: 'model', parts: [{ text: 'salut' }] },
      { role: 'user', parts: [{ text: 'a' }, { text: 'b' }] },
    ]);
  });

  it('assistant tool_calls and tool results → functionCall / functionResponse with the name recovered, merged per turn', async () => {
    const id1 = makeToolCallId('r1', 0, 0, 'SIG/abc+=');
    const id2 = makeToolCallId('r1', 0, 1);
    const { body } = await build({
      messages: [
        { role: 'user', content: 'weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: id1, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: id2, type: 'function', function: { name: 'get_time', arguments: '' } },
          ],
        },
        { role: 'tool', tool_call_id: id1, content: '{"temp":21}' },
        { role: 'tool', tool_call_id: id2, content: 'noon' },
        { role: 'tool', tool_call_id: id2, content: '[1,2]' },
      ],
    });
    expect(body.contents[1]).toEqual({
      role: 'model',
      parts: [
        { functionCall: { name: 'get_weather', args: { city: 'Paris' } }, thoughtSignature: 'SIG/abc+=' },
        { functionCall: { name: 'get_time', args: {} } },
      ],
    });
    expect(body.contents[2]).toEqual({
      role: 'user',
      parts: [
        { functionResponse: { name: 'get_weather', response: { temp: 21 } } },
        { functionResponse: { name: 'get_time', response: { result: 'noon' } } },
        { functionResponse: { name: 'get_time', response: { result: '[1,2]' } } },
      ],
    });
  });

  it('calls from another provider (no signature) get the documented placeholder on the first call only', async () => {
    const { body } = await build({
      messages: [
        { role: 'user', content: 'x' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_openai1', type: 'function', function: { name: 'a', arguments: '{}' } },
            { id: 'call_openai2', type: 'function', function: { name: 'b', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_openai1', content: 'r1' },
        { role: 'tool', tool_call_id: 'call_openai2', content: 'r2' },
      ],
    });
    expect(body.contents[1].parts.map((p) => p.thoughtSignature)).toEqual([FOREIGN_CALL_SIGNATURE, undefined]);
  });

  it('a tool message whose id matches no earlier call → 400 naming tool_call_id', async () => {
    const e = await rejection({ messages: [{ role: 'user', content: 'x' }, { role: 'tool', tool_call_id: 'nope', content: 'r' }] });
    expect([e.status, e.code, e.param]).toEqual([400, 'invalid_request', 'messages[1].tool_call_id']);
  });

  it('tool call arguments that are not JSON → 400 naming them', async () => {
    const e = await rejection({
      messages: [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_a', type: 'function', function: { name: 'f', arguments: '{oops' } }] },
      ],
    });
    expect(e.param).toBe('messages[1].tool_calls[0].function.arguments');
  });

  it('data: image → inlineData; http image without fetching → 400 naming the part', async () => {
    const { body } = await build({
      messages: [{ role: 'user', content: [{ type: 'text', text: 'what?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBO Rw==' } }] }],
    });
    expect(body.contents[0].parts[1]).toEqual({ inlineData: { mimeType: 'image/png', data: 'iVBORw==' } });
    const e = await rejection({
      messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }, { type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }],
    });
    expect([e.status, e.param]).toEqual([400, 'messages[0].content[1].image_url']);
  });

  it('input_audio → inlineData with an audio mime type', async () => {
    const { body } = await build({ messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }] }] });
    expect(body.contents[0].parts[0]).toEqual({ inlineData: { mimeType: 'audio/wav', data: 'AAAA' } });
  });

  it('only system messages → 400', async () => {
    const e = await rejection({ messages: [{ role: 'system', content: 'x' }] });
    expect(e.param).toBe('messages');
  });
});

describe('tools and tool_choice', () => {
  const tools = [
    { type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
    { type: 'function', function: { name: 'noop' } },
  ];
  it('tools → functionDeclarations with parametersJsonSchema intact', async () => {
    const { body } = await build({ tools });
    expect(body.tools).toEqual([
      {
        functionDeclarations: [
          { name: 'get_weather', description: 'Weather', parametersJsonSchema: { type: 'object', properties: { city: { type: 'string' } } } },
          { name: 'noop' },
        ],
      },
    ]);
    expect(body.toolConfig).toBeUndefined();
  });
  it.each([
    ['none', { mode: 'NONE' }],
    ['auto', { mode: 'AUTO' }],
    ['required', { mode: 'ANY' }],
    [{ type: 'function', function: { name: 'noop' } }, { mode: 'ANY', allowedFunctionNames: ['noop'] }],
  ])('tool_choice %j → %j', async (choice, expected) => {
    const { body } = await build({ tools, tool_choice: choice });
    expect(body.toolConfig).toEqual({ functionCallingConfig: expected });
  });
});

describe('generation parameters', () => {
  it.each([
    [{ max_tokens: 50 }, { maxOutputTokens: 50 }],
    [{ max_completion_tokens: 70, max_tokens: 50 }, { maxOutputTokens: 70 }],
    [{ stop: 'END' }, { stopSequences: ['END'] }],
    [{ stop: ['a', 'b'] }, { stopSequences: ['a', 'b'] }],
    [{ n: 3 }, { candidateCount: 3 }],
    [{ n: 1 }, {}],
    [{ temperature: 0.2, top_p: 0.9, seed: 7 }, { temperature: 0.2, topP: 0.9, seed: 7 }],
    [{ presence_penalty: 0.5, frequency_penalty: -0.5 }, { presencePenalty: 0.5, frequencyPenalty: -0.5 }],
    [{ response_format: { type: 'text' } }, {}],
    [{ response_format: { type: 'json_object' } }, { responseMimeType: 'application/json' }],
    [
      { response_format: { type: 'json_schema', json_schema: { name: 'p', strict: true, schema: { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] } } } },
      { responseMimeType: 'application/json', responseJsonSchema: { type: 'object', properties: { a: { type: 'integer' } }, required: ['a'] } },
    ],
  ])('%j → generationConfig %j', async (extra, expected) => {
    const { body } = await build(extra);
    expect(body.generationConfig ?? {}).toEqual(expected);
  });

  it('harmless fields are ignored', async () => {
    const { body } = await build({ user: 'u', metadata: { a: 'b' }, store: true, service_tier: 'auto', prompt_cache_key: 'k', parallel_tool_calls: false, safety_identifier: 's' });
    expect(body.generationConfig).toBeUndefined();
    expect(Object.keys(body)).toEqual(['contents']);
  });

  it.each([
    [{ logprobs: true }, 'logprobs'],
    [{ top_logprobs: 3 }, 'top_logprobs'],
    [{ logit_bias: { '50256': -100 } }, 'logit_bias'],
    [{ audio: { voice: 'alloy', format: 'wav' } }, 'audio'],
    [{ modalities: ['text', 'audio'] }, 'modalities'],
    [{ prediction: { type: 'content', content: 'x' } }, 'prediction'],
    [{ functions: [{ name: 'f' }] }, 'functions'],
    [{ verbosity: 'low' }, 'verbosity'],
  ])('%j → 400 unsupported_parameter', async (extra, param) => {
    const e = await rejection(extra);
    expect([e.status, e.code, e.param]).toEqual([400, 'unsupported_parameter', param]);
  });

  it('logprobs false and empty logit_bias are accepted', async () => {
    await expect(build({ logprobs: false, logit_bias: {} })).resolves.toBeTruthy();
  });
});

describe('reasoning', () => {
  it.each([
    ['gemini-2.5-flash', undefined, undefined, false],
    ['gemini-2.5-flash', 'none', { thinkingBudget: 0 }, false],
    ['gemini-2.5-pro', 'none', { thinkingBudget: 128 }, false],
    ['gemini-2.5-flash', 'low', { thinkingBudget: 1024, includeThoughts: true }, true],
    ['gemini-2.5-flash', 'medium', { thinkingBudget: 8192, includeThoughts: true }, true],
    ['gemini-2.5-flash', 'high', { thinkingBudget: 24576, includeThoughts: true }, true],
    ['gemini-3-pro-preview', 'low', { thinkingLevel: 'low', includeThoughts: true }, true],
    ['gemini-3-pro-preview', 'high', { thinkingLevel: 'high', includeThoughts: true }, true],
    ['gemini-3-pro-preview', 'none', { thinkingLevel: 'low' }, false],
  ])('%s reasoning_effort=%s → %j', async (model, effort, expected, include) => {
    const built = await build(effort ? { reasoning_effort: effort } : {}, model);
    expect(built.body.generationConfig?.thinkingConfig).toEqual(expected);
    expect(built.includeThoughts).toBe(include);
  });

  it('DeepSeek-style thinking switch is honoured too', () => {
    expect(thinkingConfigFor(req({ thinking: { type: 'disabled' } }), 'gemini-2.5-flash')).toEqual({ thinkingBudget: 0 });
    expect(thinkingConfigFor(req({ thinking: { type: 'enabled' } }), 'gemini-2.5-flash')).toEqual({ includeThoughts: true });
  });
});

describe('tool call ids carry the thought signature', () => {
  it.each(['', 'abc', 'CiQB+/==', 'x'.repeat(3000), 'ünïcødé.sig'])('round trip of %j', (sig) => {
    const id = makeToolCallId('resp', 0, 2, sig || undefined);
    expect(id.startsWith('call_')).toBe(true);
    expect(signatureFromToolCallId(id)).toBe(sig || undefined);
  });
  it('ids are stable for the same response and call, distinct across calls', () => {
    expect(makeToolCallId('r', 0, 0)).toBe(makeToolCallId('r', 0, 0));
    expect(makeToolCallId('r', 0, 0)).not.toBe(makeToolCallId('r', 0, 1));
    expect(makeToolCallId('r', 0, 0)).not.toBe(makeToolCallId('r', 1, 0));
  });
  it('foreign ids carry no signature', () => {
    expect(signatureFromToolCallId('call_abc123')).toBeUndefined();
    expect(signatureFromToolCallId('toolu_01.xyz')).toBeUndefined();
  });
});
