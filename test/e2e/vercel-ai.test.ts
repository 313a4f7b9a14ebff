// The Vercel AI SDK (ai + @ai-sdk/openai with createOpenAI({ baseURL })) against a running gateway.
import { createOpenAI } from '@ai-sdk/openai';
import { embed, generateText, streamText } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';

let h: Harness;
let provider: ReturnType<typeof createOpenAI>;

beforeAll(async () => {
  h = await startHarness({ clock: () => new Date('2026-11-25T12:00:00Z') });
  const { key } = await h.createTenant('vercel');
  provider = createOpenAI({ baseURL: h.baseURL, apiKey: key });
});
afterAll(async () => h?.close());

describe.each(['gpt-4o-mini', 'deepseek-flash', 'gemini-2.5-flash', 'auto'])('Vercel AI SDK through %s', (model) => {
  it('generateText and streamText agree, with usage', async () => {
    const prompt = `Describe ${model} in a sentence.`;
    const full = await generateText({ model: provider.chat(model), prompt, seed: 3, maxRetries: 0 });
    expect(full.text.length).toBeGreaterThan(0);
    expect(full.usage.inputTokens).toBeGreaterThan(0);
    expect(full.usage.outputTokens).toBeGreaterThan(0);

    const streamed = streamText({ model: provider.chat(model), prompt, seed: 3, maxRetries: 0 });
    let text = '';
    for await (const delta of streamed.textStream) text += delta;
    expect(text).toBe(full.text);
    expect((await streamed.usage).outputTokens).toBe(full.usage.outputTokens);
  });
});

describe('Vercel AI SDK embeddings and errors', () => {
  it('embeds', async () => {
    const { embedding, usage } = await embed({ model: provider.embedding('text-embedding-3-small'), value: 'sunny day', maxRetries: 0 });
    expect(embedding.length).toBeGreaterThan(8);
    expect(usage.tokens).toBeGreaterThan(0);
  });

  it('surfaces an unknown model as an API call error with status 404', async () => {
    const err = await generateText({ model: provider.chat('no-such-model'), prompt: 'x', maxRetries: 0 }).catch((e: unknown) => e);
    expect((err as { statusCode?: number }).statusCode).toBe(404);
  });
});
