// The full Chat Completions surface on every provider, driven by the official openai SDK's own helpers:
// tool runner (two turns, stream and non-stream), structured output parsing, images, reasoning, finish reasons.
import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';

let h: Harness;
let client: OpenAI;

beforeAll(async () => {
  h = await startHarness({ clock: () => new Date('2026-11-25T12:00:00Z') });
  const { key } = await h.createTenant('surface');
  client = new OpenAI({ baseURL: h.baseURL, apiKey: key, maxRetries: 0 });
});
afterAll(async () => h?.close());

const weatherTool = (calls: string[]) => ({
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
    parse: JSON.parse,
    function: (args: { city: string }) => {
      calls.push(args.city);
      return { city: args.city, celsius: 21 };
    },
  },
});

const PNG_1PX = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

describe.each(['gpt-4o-mini', 'deepseek-flash', 'gemini-2.5-flash'])('%s', (model) => {
  it.each([false, true])('runs a two-turn tool conversation with the SDK tool runner (stream: %s)', async (stream) => {
    const calls: string[] = [];
    const runner = client.chat.completions.runTools({
      model,
      stream,
      messages: [{ role: 'user', content: 'What is the weather in Lisbon?' }],
      tools: [weatherTool(calls)],
    } as never);
    const content = await runner.finalContent();
    expect(calls.length).toBeGreaterThanOrEqual(1);
    expect(typeof calls[0]).toBe('string');
    expect(content && content.length).toBeGreaterThan(0);
    const messages = runner.messages;
    expect(messages.some((m) => m.role === 'tool')).toBe(true);
  });

  it('parses JSON-schema output with the SDK (DeepSeek: a 400 naming response_format)', async () => {
    const Answer = z.object({ city: z.string(), reasons: z.array(z.string()) });
    const run = client.chat.completions.parse({
      model,
      messages: [{ role: 'user', content: 'Best city for cycling, with reasons.' }],
      response_format: zodResponseFormat(Answer, 'answer'),
    });
    if (model.startsWith('deepseek')) {
      const e = await run.catch((x: unknown) => x);
      expect(e).toBeInstanceOf(OpenAI.BadRequestError);
      expect((e as InstanceType<typeof OpenAI.APIError>).param).toBe('response_format');
      return;
    }
    const r = await run;
    const parsed = r.choices[0].message.parsed;
    expect(parsed).not.toBeNull();
    expect(Answer.safeParse(parsed).success).toBe(true);
  });

  it('takes an image (DeepSeek has no vision: a 400 that says why)', async () => {
    const run = client.chat.completions.create({
      model,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'What is in this picture?' }, { type: 'image_url', image_url: { url: PNG_1PX } }] }],
    });
    if (model.startsWith('deepseek')) {
      const e = await run.catch((x: unknown) => x);
      expect(e).toBeInstanceOf(OpenAI.BadRequestError);
      expect((e as Error).message).toMatch(/image|vision/i);
      return;
    }
    const r = await run;
    expect(r.usage!.prompt_tokens).toBeGreaterThan(10);
  });

  it('reports length when max_tokens cuts the answer', async () => {
    const r = await client.chat.completions.create({ model, max_tokens: 3, reasoning_effort: model.startsWith('gpt-4o') ? undefined : 'none', messages: [{ role: 'user', content: 'Write a long essay.' }] } as never);
    expect((r as OpenAI.ChatCompletion).choices[0].finish_reason).toBe('length');
  });
});

describe('reasoning', () => {
  it.each(['deepseek-flash', 'gemini-2.5-flash'])('%s returns reasoning_content and counts reasoning tokens inside completion tokens', async (model) => {
    const r = await client.chat.completions.create({ model, reasoning_effort: 'high', messages: [{ role: 'user', content: 'Think about prime numbers.' }] });
    const msg = r.choices[0].message as unknown as { reasoning_content?: string };
    expect(msg.reasoning_content?.length).toBeGreaterThan(0);
    const reasoning = r.usage!.completion_tokens_details!.reasoning_tokens!;
    expect(reasoning).toBeGreaterThan(0);
    expect(r.usage!.completion_tokens).toBeGreaterThan(reasoning);
  });
});
