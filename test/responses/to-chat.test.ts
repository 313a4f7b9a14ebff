// Table tests pinning the Responses request → Chat Completions request translation, and request validation errors.
import { describe, expect, it } from 'vitest';
import { chatRequestSchema } from '../../src/api/openai.js';
import { isGatewayError } from '../../src/errors.js';
import { parseResponsesRequest, shouldStore } from '../../src/responses/schema.js';
import { responsesToChat } from '../../src/responses/to-chat.js';
import { req } from './fixtures.js';

const weather = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };

const cases: Array<{ name: string; body: Record<string, unknown>; expected: Record<string, unknown> }> = [
  {
    name: 'string input becomes one user message',
    body: { input: 'Hello' },
    expected: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] },
  },
  {
    name: 'instructions become a leading system message',
    body: { instructions: 'Be terse.', input: 'Hi' },
    expected: { messages: [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'Hi' }] },
  },
  {
    name: 'easy messages without type, every role',
    body: {
      input: [
        { role: 'developer', content: 'dev rules' },
        { role: 'system', content: 'sys' },
        { role: 'user', content: 'q1' },
        { role: 'assistant', content: 'a1' },
        { role: 'user', content: 'q2' },
      ],
    },
    expected: {
      messages: [
        { role: 'developer', content: 'dev rules' },
        { role: 'system', content: 'sys' },
        { role: 'user', content: 'q1' },
        { role: 'assistant', content: 'a1' },
        { role: 'user', content: 'q2' },
      ],
    },
  },
  {
    name: 'input_text and input_image parts (image_url, detail; original → high)',
    body: {
      input: [
        {
          type: 'message',
          role: 'user',
          content: [
            { type: 'input_text', text: 'What is this?' },
            { type: 'input_image', image_url: 'https://x.test/a.png', detail: 'low' },
            { type: 'input_image', image_url: 'data:image/png;base64,AAAA', detail: 'original' },
            { type: 'input_image', image_url: 'https://x.test/b.png' },
          ],
        },
      ],
    },
    expected: {
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is this?' },
            { type: 'image_url', image_url: { url: 'https://x.test/a.png', detail: 'low' } },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'high' } },
            { type: 'image_url', image_url: { url: 'https://x.test/b.png' } },
          ],
        },
      ],
    },
  },
  {
    name: 'assistant output_text parts (replayed output message) become assistant text',
    body: {
      input: [
        { role: 'user', content: 'hi' },
        { type: 'message', id: 'msg_1', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: 'Hel', annotations: [] }, { type: 'output_text', text: 'lo', annotations: [] }] },
        { role: 'user', content: 'again' },
      ],
    },
    expected: { messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'Hello' }, { role: 'user', content: 'again' }] },
  },
  {
    name: 'consecutive function_call items become one assistant message; outputs become tool messages',
    body: {
      input: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        { type: 'function_call', call_id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}' },
        { type: 'function_call', id: 'fc_2', call_id: 'call_b', name: 'get_weather', arguments: '{"city":"Rome"}', status: 'completed' },
        { type: 'function_call_output', call_id: 'call_a', output: '18C' },
        { type: 'function_call_output', call_id: 'call_b', output: [{ type: 'input_text', text: '2' }, { type: 'input_text', text: '1C' }] },
      ],
    },
    expected: {
      messages: [
        { role: 'user', content: 'Weather in Paris and Rome?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } },
            { id: 'call_b', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_a', content: '18C' },
        { role: 'tool', tool_call_id: 'call_b', content: '21C' },
      ],
    },
  },
  {
    name: 'reasoning + assistant text + function_call fold into one assistant turn with reasoning_content',
    body: {
      input: [
        { role: 'user', content: 'go' },
        { type: 'reasoning', id: 'rs_1', summary: [{ type: 'summary_text', text: 'think A' }, { type: 'summary_text', text: 'think B' }] },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Calling.' }] },
        { type: 'function_call', call_id: 'c1', name: 'f', arguments: '{}' },
        { type: 'function_call_output', call_id: 'c1', output: 'ok' },
        { type: 'reasoning', summary: [], content: [{ type: 'reasoning_text', text: 'raw thought' }] },
        { role: 'assistant', content: 'Done.' },
      ],
    },
    expected: {
      messages: [
        { role: 'user', content: 'go' },
        {
          role: 'assistant',
          content: 'Calling.',
          reasoning_content: 'think A\n\nthink B',
          tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'c1', content: 'ok' },
        { role: 'assistant', content: 'Done.', reasoning_content: 'raw thought' },
      ],
    },
  },
  {
    name: 'two assistant text messages in a row stay two messages',
    body: { input: [{ role: 'user', content: 'u' }, { role: 'assistant', content: 'a' }, { role: 'assistant', content: 'b' }] },
    expected: { messages: [{ role: 'user', content: 'u' }, { role: 'assistant', content: 'a' }, { role: 'assistant', content: 'b' }] },
  },
  {
    name: 'assistant refusal part becomes the refusal field',
    body: { input: [{ role: 'user', content: 'u' }, { type: 'message', role: 'assistant', content: [{ type: 'refusal', refusal: 'No.' }] }, { role: 'user', content: 'please' }] },
    expected: { messages: [{ role: 'user', content: 'u' }, { role: 'assistant', content: null, refusal: 'No.' }, { role: 'user', content: 'please' }] },
  },
  {
    name: 'function tools, named tool_choice, parallel_tool_calls',
    body: {
      input: 'x',
      tools: [
        { type: 'function', name: 'get_weather', description: 'Weather', parameters: weather, strict: true },
        { type: 'function', name: 'noop', parameters: null, strict: null },
      ],
      tool_choice: { type: 'function', name: 'get_weather' },
      parallel_tool_calls: false,
    },
    expected: {
      tools: [
        { type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: weather, strict: true } },
        { type: 'function', function: { name: 'noop' } },
      ],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      parallel_tool_calls: false,
    },
  },
  {
    name: 'string tool_choice passes through',
    body: { input: 'x', tools: [{ type: 'function', name: 'f' }], tool_choice: 'required' },
    expected: { tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: 'required' },
  },
  {
    name: 'allowed_tools keeps only the allowed tools with its mode',
    body: {
      input: 'x',
      tools: [{ type: 'function', name: 'a' }, { type: 'function', name: 'b' }, { type: 'function', name: 'c' }],
      tool_choice: { type: 'allowed_tools', mode: 'required', tools: [{ type: 'function', name: 'c' }, { type: 'function', name: 'a' }] },
    },
    expected: { tools: [{ type: 'function', function: { name: 'a' } }, { type: 'function', function: { name: 'c' } }], tool_choice: 'required' },
  },
  {
    name: 'tool_choice auto without tools is dropped',
    body: { input: 'x', tool_choice: 'auto' },
    expected: { messages: [{ role: 'user', content: 'x' }] },
  },
  {
    name: 'text.format json_schema → response_format json_schema',
    body: { input: 'x', text: { format: { type: 'json_schema', name: 'weather', schema: weather, strict: true, description: 'W' } } },
    expected: { response_format: { type: 'json_schema', json_schema: { name: 'weather', schema: weather, strict: true, description: 'W' } } },
  },
  {
    name: 'text.format json_object and verbosity',
    body: { input: 'x', text: { format: { type: 'json_object' }, verbosity: 'low' } },
    expected: { response_format: { type: 'json_object' }, verbosity: 'low' },
  },
  {
    name: 'sampling, limits, reasoning effort, identity and caching fields',
    body: {
      input: 'x',
      reasoning: { effort: 'high', summary: 'auto' },
      max_output_tokens: 256,
      temperature: 0.2,
      top_p: 0.9,
      top_logprobs: 3,
      user: 'u1',
      safety_identifier: 'sid',
      prompt_cache_key: 'pck',
      service_tier: 'flex',
      metadata: { a: 'b' },
      store: false,
    },
    expected: {
      reasoning_effort: 'high',
      max_completion_tokens: 256,
      temperature: 0.2,
      top_p: 0.9,
      logprobs: true,
      top_logprobs: 3,
      user: 'u1',
      safety_identifier: 'sid',
      prompt_cache_key: 'pck',
      service_tier: 'flex',
    },
  },
  {
    name: 'stream asks the upstream for usage',
    body: { input: 'x', stream: true },
    expected: { stream: true, stream_options: { include_usage: true } },
  },
];

describe('responsesToChat', () => {
  it.each(cases)('$name', ({ body, expected }) => {
    const chat = responsesToChat(req(body));
    expect(chat).toMatchObject(expected);
    // Whatever we produce must be a valid chat request for the rest of the gateway.
    expect(chatRequestSchema.safeParse(chat).success).toBe(true);
  });

  it('drops the default verbosity (medium), which providers without the knob would refuse', () => {
    expect(responsesToChat(req({ input: 'x', text: { verbosity: 'medium' } }))).not.toHaveProperty('verbosity');
  });

  it('carries nothing that belongs only to the Responses object (store, metadata, instructions as a field)', () => {
    const chat = responsesToChat(req({ input: 'x', store: true, metadata: { k: 'v' }, instructions: 'i', previous_response_id: 'resp_1' }));
    expect(Object.keys(chat).sort()).toEqual(['messages', 'model']);
  });

  it('prepends history (previous turns) after the instructions and before the new input', () => {
    const history = [
      { type: 'message' as const, role: 'user' as const, content: 'first' },
      { type: 'function_call' as const, call_id: 'c9', name: 'f', arguments: '{}' },
    ];
    const chat = responsesToChat(req({ instructions: 'sys', input: [{ type: 'function_call_output', call_id: 'c9', output: 'r' }] }), history);
    expect(chat.messages).toEqual([
      { role: 'system', content: 'sys' },
      { role: 'user', content: 'first' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c9', type: 'function', function: { name: 'f', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'c9', content: 'r' },
    ]);
  });

  it.each([
    { name: 'no input at all', body: {}, param: 'input' },
    { name: 'named tool_choice not in tools', body: { input: 'x', tools: [{ type: 'function', name: 'a' }], tool_choice: { type: 'function', name: 'zz' } }, param: 'tool_choice' },
    { name: 'required tool_choice without tools', body: { input: 'x', tool_choice: 'required' }, param: 'tool_choice' },
  ])('400 for $name', ({ body, param }) => {
    let caught: unknown;
    try {
      responsesToChat(req(body));
    } catch (e) {
      caught = e;
    }
    expect(isGatewayError(caught) && caught.status === 400 && caught.param === param).toBe(true);
  });
});

describe('parseResponsesRequest', () => {
  it.each([
    { name: 'non-function tool names tools[i].type', body: { input: 'x', tools: [{ type: 'function', name: 'f' }, { type: 'web_search' }] }, param: 'tools[1].type', text: 'web_search' },
    { name: 'input_image with file_id', body: { input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'file-1', detail: 'auto' }] }] }, param: 'input[0].content[0].file_id', text: 'file_id' },
    { name: 'unknown input item type', body: { input: [{ type: 'web_search_call', id: 'ws_1' }] }, param: 'input[0].type', text: 'web_search_call' },
    { name: 'bad role', body: { input: [{ role: 'tool', content: 'x' }] }, param: 'input[0].role', text: 'role' },
    { name: 'function_call without call_id', body: { input: [{ type: 'function_call', name: 'f', arguments: '{}' }] }, param: 'input[0].call_id', text: 'call_id' },
    { name: 'temperature out of range', body: { input: 'x', temperature: 3 }, param: 'temperature', text: 'temperature' },
    { name: 'unknown text.format type', body: { input: 'x', text: { format: { type: 'xml' } } }, param: 'text.format.type', text: 'xml' },
    { name: 'json_schema without name', body: { input: 'x', text: { format: { type: 'json_schema', schema: {} } } }, param: 'text.format.name', text: 'name' },
    { name: 'more than 16 metadata pairs', body: { input: 'x', metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }, param: 'metadata', text: '16' },
    { name: 'duplicate tool names', body: { input: 'x', tools: [{ type: 'function', name: 'f' }, { type: 'function', name: 'f' }] }, param: 'tools', text: 'unique' },
    { name: 'background mode', body: { input: 'x', background: true }, param: 'background', text: 'not supported' },
    { name: 'missing model', body: { model: undefined, input: 'x' }, param: 'model', text: 'model' },
  ])('400 for $name, naming $param', ({ body, param, text }) => {
    let caught: unknown;
    try {
      parseResponsesRequest({ model: 'm', ...body });
    } catch (e) {
      caught = e;
    }
    if (!isGatewayError(caught)) throw new Error(`expected a GatewayError, got ${String(caught)}`);
    expect(caught.status).toBe(400);
    expect(caught.param).toBe(param);
    expect(caught.message).toContain(text);
    expect(caught.toBody().error.type).toBe('invalid_request_error');
  });

  it('keeps unknown top-level fields (loose) and defaults store to true', () => {
    const r = parseResponsesRequest({ model: 'm', input: 'x', some_future_field: 1 });
    expect(r.some_future_field).toBe(1);
    expect(shouldStore(r)).toBe(true);
    expect(shouldStore(parseResponsesRequest({ model: 'm', input: 'x', store: false }))).toBe(false);
    expect(shouldStore(parseResponsesRequest({ model: 'm', input: 'x', store: null }))).toBe(true);
  });
});
