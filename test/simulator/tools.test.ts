// Tool calls on the wire: OpenAI tool_calls (stream deltas and non-stream), parallel calls, Gemini functionCall with thought signatures.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { countTokens } from '../../src/metering/tokens.js';
import { SKIP_SIGNATURE, startSimulator, type Simulator } from '../../src/simulator/index.js';
import { chunks, gemini, openai, readSse } from './helpers.js';

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(() => sim.close());

const weatherSchema = {
  type: 'object',
  properties: { city: { type: 'string', minLength: 2 }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] }, days: { type: 'integer', minimum: 1, maximum: 7 } },
  required: ['city', 'unit', 'days'],
  additionalProperties: false,
};
const timeSchema = { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] };
const tools = [
  { type: 'function', function: { name: 'get_weather', description: 'Weather', parameters: weatherSchema } },
  { type: 'function', function: { name: 'get_time', parameters: timeSchema } },
];
const valid = (schema: object, value: unknown) => z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]).safeParse(value).success;
const req = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], tools, ...extra });

interface ToolCall {
  id: string;
  type: string;
  function: { name: string; arguments: string };
}

describe('openai tool calls', () => {
  it('calls the first tool with arguments valid against its schema, finish_reason tool_calls', async () => {
    const json = await (await openai(sim, req('Weather in Paris?'))).json();
    const choice = json.choices[0];
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    const calls: ToolCall[] = choice.message.tool_calls;
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ type: 'function', function: { name: 'get_weather' } });
    expect(calls[0].id).toMatch(/^call_/);
    expect(valid(weatherSchema, JSON.parse(calls[0].function.arguments))).toBe(true);
  });

  it('honours a named tool_choice, and answers text with tool_choice none', async () => {
    const named = await (await openai(sim, req('time?', { tool_choice: { type: 'function', function: { name: 'get_time' } } }))).json();
    expect(named.choices[0].message.tool_calls[0].function.name).toBe('get_time');
    const none = await (await openai(sim, req('time?', { tool_choice: 'none' }))).json();
    expect(none.choices[0].finish_reason).toBe('stop');
    expect(none.choices[0].message.tool_calls).toBeUndefined();
  });

  it('makes two calls with [[sim:parallel]] unless parallel_tool_calls is false', async () => {
    const two = await (await openai(sim, req('both [[sim:parallel]]'))).json();
    expect(two.choices[0].message.tool_calls.map((c: ToolCall) => c.function.name)).toEqual(['get_weather', 'get_time']);
    const one = await (await openai(sim, req('both [[sim:parallel]]', { parallel_tool_calls: false }))).json();
    expect(one.choices[0].message.tool_calls).toHaveLength(1);
  });

  it('streams tool calls as deltas: id and name first, arguments in pieces, same as non-stream and usage equal', async () => {
    const body = req('both [[sim:parallel]]');
    const full = await (await openai(sim, body)).json();
    const s = await readSse(await openai(sim, { ...body, stream: true, stream_options: { include_usage: true } }));
    const deltas = chunks(s).flatMap((c) => c.choices.flatMap((ch) => ch.delta.tool_calls ?? []));
    const byIndex = new Map<number, { id?: string; name?: string; args: string; pieces: number }>();
    for (const d of deltas) {
      const cur = byIndex.get(d.index) ?? { args: '', pieces: 0 };
      if (d.id) {
        expect(cur.args).toBe(''); // id and name come before any argument piece
        cur.id = d.id;
        cur.name = d.function?.name;
      }
      if (d.function?.arguments) {
        cur.args += d.function.arguments;
        cur.pieces += 1;
      }
      byIndex.set(d.index, cur);
    }
    const streamed = [...byIndex.values()];
    expect(streamed.map((c) => ({ id: c.id, name: c.name, args: c.args }))).toEqual(
      full.choices[0].message.tool_calls.map((c: ToolCall) => ({ id: c.id, name: c.function.name, args: c.function.arguments })),
    );
    expect(streamed.every((c) => c.pieces > 1)).toBe(true);
    expect(chunks(s).at(-2)?.choices[0].finish_reason).toBe('tool_calls');
    const expected = deltas.reduce((n, d) => n + countTokens(d.function?.name ?? '') + countTokens(d.function?.arguments ?? ''), 0);
    expect(chunks(s).at(-1)?.usage?.completion_tokens).toBe(expected);
    expect(full.usage.completion_tokens).toBe(expected);
  });

  it('answers text that mentions the tool result on the next turn', async () => {
    const first = await (await openai(sim, req('Weather?'))).json();
    const call: ToolCall = first.choices[0].message.tool_calls[0];
    const second = await openai(sim, {
      model: 'gpt-4o-mini',
      tools,
      messages: [
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: null, tool_calls: [call] },
        { role: 'tool', tool_call_id: call.id, content: '{"temp":21,"sky":"clear"}' },
      ],
    });
    const json = await second.json();
    expect(json.choices[0].finish_reason).toBe('stop');
    expect(json.choices[0].message.content).toContain('{"temp":21,"sky":"clear"}');
  });
});

describe('gemini function calls and thought signatures', () => {
  const decl = { functionDeclarations: [{ name: 'get_weather', parameters: { type: 'OBJECT', properties: { city: { type: 'STRING' } }, required: ['city'] } }, { name: 'get_time', parametersJsonSchema: timeSchema }] };
  const ask = (text: string, extra: Record<string, unknown> = {}) => ({ contents: [{ role: 'user', parts: [{ text }] }], tools: [decl], ...extra });
  type Part = { functionCall?: { id?: string; name: string; args: Record<string, unknown> }; thoughtSignature?: string; text?: string };

  async function firstTurn(): Promise<Part[]> {
    const json = await (await gemini(sim, 'gemini-2.5-flash', ask('weather and time [[sim:parallel]]'))).json();
    return json.candidates[0].content.parts as Part[];
  }

  it('answers functionCall parts with ids and a thoughtSignature on every one', async () => {
    const parts = await firstTurn();
    expect(parts).toHaveLength(2);
    for (const p of parts) {
      expect(p.functionCall?.id).toBeTruthy();
      expect(p.thoughtSignature).toMatch(/^[A-Za-z0-9+/]+=*$/);
    }
    expect(typeof parts[0].functionCall?.args.city).toBe('string');
    expect(valid(timeSchema, parts[1].functionCall?.args)).toBe(true);
  });

  it('accepts the next turn with the signatures and answers text mentioning the result', async () => {
    const parts = await firstTurn();
    const body = {
      tools: [decl],
      contents: [
        { role: 'user', parts: [{ text: 'weather and time [[sim:parallel]]' }] },
        { role: 'model', parts },
        { role: 'user', parts: parts.map((p) => ({ functionResponse: { id: p.functionCall?.id, name: p.functionCall?.name, response: { result: `ok-${p.functionCall?.name}` } } })) },
      ],
    };
    const res = await gemini(sim, 'gemini-2.5-flash', body);
    expect(res.status).toBe(200);
    const json = await res.json();
    const text = (json.candidates[0].content.parts as Part[]).map((p) => p.text ?? '').join('');
    expect(text).toContain('ok-get_weather');
    const streamed = await gemini(sim, 'gemini-2.5-flash', body, true);
    expect(streamed.status).toBe(200);
  });

  it('rejects the next turn with 400 INVALID_ARGUMENT when a signature is missing or does not match', async () => {
    const parts = await firstTurn();
    const history = (modelParts: Part[]) => ({
      tools: [decl],
      contents: [
        { role: 'user', parts: [{ text: 'weather' }] },
        { role: 'model', parts: modelParts },
        { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { result: 'x' } } }] },
      ],
    });
    const missing = await gemini(sim, 'gemini-2.5-flash', history(parts.map(({ functionCall }) => ({ functionCall }))));
    expect(missing.status).toBe(400);
    const err = (await missing.json()).error;
    expect(err.status).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain('thought_signature');
    const tampered = parts.map((p) => ({ ...p, functionCall: { ...p.functionCall!, args: { city: 'elsewhere' } } }));
    expect((await gemini(sim, 'gemini-2.5-flash', history(tampered))).status).toBe(400);
    const skipped = parts.map(({ functionCall }) => ({ functionCall, thoughtSignature: SKIP_SIGNATURE }));
    expect((await gemini(sim, 'gemini-2.5-flash', history(skipped))).status).toBe(200);
  });

  it('does not call with mode NONE and calls the allowed function with ANY', async () => {
    const none = await (await gemini(sim, 'gemini-2.5-flash', ask('x', { toolConfig: { functionCallingConfig: { mode: 'NONE' } } }))).json();
    expect(none.candidates[0].content.parts[0].text).toBeTruthy();
    const any = await (await gemini(sim, 'gemini-2.5-flash', ask('x', { toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_time'] } } }))).json();
    expect(any.candidates[0].content.parts[0].functionCall.name).toBe('get_time');
  });

  it('streams a function call in one event with its signature and usage equal to non-stream', async () => {
    const full = await (await gemini(sim, 'gemini-2.5-flash', ask('weather'))).json();
    const s = await readSse(await gemini(sim, 'gemini-2.5-flash', ask('weather'), true));
    const events = s.data.map((d) => JSON.parse(d));
    const calls = events.flatMap((e) => (e.candidates?.[0]?.content?.parts ?? []).filter((p: Part) => p.functionCall));
    expect(calls).toEqual(full.candidates[0].content.parts);
    expect(events.at(-1).usageMetadata).toEqual(full.usageMetadata);
  });
});
