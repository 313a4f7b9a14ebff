// DeepSeek wire format (keep-alives, blank lines, reasoning_content first, cache hit/miss usage) and prompt caching rules.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../src/api/openai.js';
import { countPromptTokens, countTokens } from '../../src/metering/tokens.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { chunks, deepseek, gemini, KEYS, longText, openai, post, readSse, streamedText } from './helpers.js';

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

const ds = (content: string, extra: Record<string, unknown> = {}) => ({ model: 'deepseek-flash', messages: [{ role: 'user', content }], ...extra });

describe('deepseek', () => {
  it('sends blank lines before a non-stream JSON body, with reasoning_content and cache usage fields', async () => {
    const body = ds('Explain tariffs.');
    const res = await deepseek(sim, body);
    expect(res.status).toBe(200);
    const raw = await res.text();
    expect(raw.startsWith('\n')).toBe(true);
    const json = JSON.parse(raw);
    const msg = json.choices[0].message;
    expect(msg.reasoning_content.length).toBeGreaterThan(0);
    expect(msg.content.length).toBeGreaterThan(0);
    const u = json.usage;
    expect(u.prompt_tokens).toBe(countPromptTokens(body as ChatRequest));
    expect(u.prompt_cache_hit_tokens + u.prompt_cache_miss_tokens).toBe(u.prompt_tokens);
    expect(u.prompt_tokens_details.cached_tokens).toBe(u.prompt_cache_hit_tokens);
    expect(u.completion_tokens_details.reasoning_tokens).toBeGreaterThan(0);
    expect(u.completion_tokens).toBe(u.completion_tokens_details.reasoning_tokens + countTokensOfWords(msg.content));
  });

  it('streams keep-alive comments and reasoning_content deltas before content deltas, equal to the non-stream answer', async () => {
    const body = ds('Stream it.', { stream: true, stream_options: { include_usage: true } });
    const res = await post(`${sim.baseUrls.deepseek}/v1/chat/completions`, body, { authorization: `Bearer ${KEYS.deepseek}` });
    const s = await readSse(res);
    expect(s.raw.startsWith(': keep-alive\n\n')).toBe(true);
    expect(s.comments.length).toBeGreaterThan(1);
    const deltas = chunks(s).flatMap((c) => c.choices.map((ch) => ch.delta));
    const firstContent = deltas.findIndex((d) => typeof d.content === 'string' && d.content !== '');
    const lastReasoning = deltas.map((d) => typeof d.reasoning_content === 'string').lastIndexOf(true);
    expect(lastReasoning).toBeGreaterThan(0);
    expect(firstContent).toBeGreaterThan(lastReasoning);
    const full = JSON.parse(await (await deepseek(sim, { ...body, stream: false })).text());
    expect(streamedText(s)).toBe(full.choices[0].message.content);
    expect(streamedText(s, 'reasoning_content')).toBe(full.choices[0].message.reasoning_content);
    const usage = chunks(s).at(-1)?.usage;
    expect(usage).toMatchObject({ completion_tokens: full.usage.completion_tokens, prompt_cache_miss_tokens: expect.any(Number) });
  });

  it('thinks by default and not with thinking disabled', async () => {
    const json = JSON.parse(await (await deepseek(sim, ds('No thinking.', { thinking: { type: 'disabled' } }))).text());
    expect(json.choices[0].message.reasoning_content).toBeUndefined();
    expect(json.usage.completion_tokens_details.reasoning_tokens).toBe(0);
    expect(json.usage.completion_tokens).toBe(40);
  });

  it('rejects json_schema and images as DeepSeek does, and a wrong key with 401', async () => {
    const schema = await deepseek(sim, ds('x', { response_format: { type: 'json_schema', json_schema: { name: 'a', schema: { type: 'object' } } } }));
    expect(schema.status).toBe(400);
    const image = await deepseek(sim, { model: 'deepseek-flash', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AA==' } }] }] });
    expect(image.status).toBe(400);
    const bad = await deepseek(sim, ds('x'), { authorization: 'Bearer sk-sim-openai' });
    expect(bad.status).toBe(401);
    expect((await bad.json()).error.code).toBe('invalid_api_key');
  });

  it('lists its catalog models on /models and /v1/models', async () => {
    for (const path of ['/models', '/v1/models']) {
      const json = await (await fetch(`${sim.baseUrls.deepseek}${path}`, { headers: { authorization: `Bearer ${KEYS.deepseek}` } })).json();
      expect(json.data.map((m: { id: string }) => m.id)).toContain('deepseek-flash');
      expect(json.data.every((m: { owned_by: string }) => m.owned_by === 'deepseek')).toBe(true);
    }
  });
});

describe('prompt caching', () => {
  const system = longText(1500);

  it('OpenAI: a repeated long prefix gets cached tokens, a multiple of 128 and at least 1024', async () => {
    const first = await (await openai(sim, { model: 'gpt-4o-mini', messages: [{ role: 'system', content: system }, { role: 'user', content: 'one' }] })).json();
    expect(first.usage.prompt_tokens).toBeGreaterThan(1024);
    expect(first.usage.prompt_tokens_details.cached_tokens).toBe(0);
    const second = await (await openai(sim, { model: 'gpt-4o-mini', messages: [{ role: 'system', content: system }, { role: 'user', content: 'another question' }] })).json();
    const cached = second.usage.prompt_tokens_details.cached_tokens;
    expect(cached).toBeGreaterThanOrEqual(1024);
    expect(cached % 128).toBe(0);
    expect(cached).toBeLessThanOrEqual(second.usage.prompt_tokens);
    // The cache is per model: another model starts cold.
    const other = await (await openai(sim, { model: 'gpt-4o', messages: [{ role: 'system', content: system }, { role: 'user', content: 'one' }] })).json();
    expect(other.usage.prompt_tokens_details.cached_tokens).toBe(0);
    const rec = sim.records().find((r) => r.id === second.id);
    expect(rec?.cachedTokens).toBe(cached);
  });

  it('OpenAI: short prompts never hit', async () => {
    await openai(sim, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'short' }] });
    const again = await (await openai(sim, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'short' }] })).json();
    expect(again.usage.prompt_tokens_details.cached_tokens).toBe(0);
  });

  it('DeepSeek: hits in multiples of 64, also for shorter prefixes', async () => {
    const sys = longText(200);
    await deepseek(sim, ds('q1', { messages: [{ role: 'system', content: sys }, { role: 'user', content: 'q1' }] }));
    const json = JSON.parse(await (await deepseek(sim, { model: 'deepseek-flash', messages: [{ role: 'system', content: sys }, { role: 'user', content: 'q2' }] })).text());
    expect(json.usage.prompt_cache_hit_tokens).toBeGreaterThanOrEqual(64);
    expect(json.usage.prompt_cache_hit_tokens % 64).toBe(0);
    expect(json.usage.prompt_cache_miss_tokens).toBe(json.usage.prompt_tokens - json.usage.prompt_cache_hit_tokens);
  });

  it('Gemini: implicit caching reports cachedContentTokenCount inside promptTokenCount', async () => {
    const body = (q: string) => ({ systemInstruction: { parts: [{ text: system }] }, contents: [{ role: 'user', parts: [{ text: q }] }] });
    await gemini(sim, 'gemini-2.5-flash', body('first'));
    const json = await (await gemini(sim, 'gemini-2.5-flash', body('second'))).json();
    const u = json.usageMetadata;
    expect(u.cachedContentTokenCount).toBeGreaterThanOrEqual(1024);
    expect(u.cachedContentTokenCount % 128).toBe(0);
    expect(u.promptTokenCount).toBe(countTokens(system) + countTokens('second'));
    expect(u.cachedContentTokenCount).toBeLessThanOrEqual(u.promptTokenCount);
  });

  it('forgets prompts on reset()', async () => {
    const msgs = { model: 'gpt-4o-mini', messages: [{ role: 'system', content: system }, { role: 'user', content: 'one' }] };
    await openai(sim, msgs);
    sim.reset();
    const cold = await (await openai(sim, msgs)).json();
    expect(cold.usage.prompt_tokens_details.cached_tokens).toBe(0);
    const warm = await (await openai(sim, msgs)).json();
    expect(warm.usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(0);
  });
});

/** The simulator's words are one token each (full stops one more): count the text as its pieces would be counted. */
function countTokensOfWords(text: string): number {
  return text.split(/(?= )/).reduce((n, p) => n + countTokens(p), 0);
}
