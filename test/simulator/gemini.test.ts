// Gemini native wire format over real HTTP: generateContent, SSE with \r\n\r\n, usage, thinking, JSON, safety, finish markers, auth.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { countTokens } from '../../src/metering/tokens.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { gemini, jsonEvents, post, readSse } from './helpers.js';

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ seed: 3 });
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

interface GResponse {
  candidates?: Array<{ content?: { role: string; parts: Array<{ text?: string; thought?: boolean }> }; finishReason?: string }>;
  usageMetadata: { promptTokenCount: number; candidatesTokenCount?: number; thoughtsTokenCount?: number; totalTokenCount: number; cachedContentTokenCount?: number };
  promptFeedback?: { blockReason: string };
  responseId: string;
  modelVersion: string;
}

const user = (text: string, generationConfig: Record<string, unknown> = {}) => ({
  systemInstruction: { parts: [{ text: 'You are terse.' }] },
  contents: [{ role: 'user', parts: [{ text }] }],
  generationConfig,
});
const answerText = (r: GResponse, thought = false) =>
  (r.candidates?.[0]?.content?.parts ?? []).filter((p) => (p.thought === true) === thought).map((p) => p.text ?? '').join('');

describe('gemini generateContent', () => {
  it('answers with candidates, usage from the tokenizer, responseId and modelVersion', async () => {
    const res = await gemini(sim, 'gemini-2.5-flash', user('Hello there'));
    expect(res.status).toBe(200);
    const json = (await res.json()) as GResponse;
    expect(json.candidates?.[0].content?.role).toBe('model');
    expect(json.candidates?.[0].finishReason).toBe('STOP');
    expect(json.responseId).toBeTruthy();
    expect(json.modelVersion).toBe('gemini-2.5-flash');
    const u = json.usageMetadata;
    expect(u.promptTokenCount).toBe(countTokens('You are terse.') + countTokens('Hello there'));
    expect(u.candidatesTokenCount).toBe(40);
    // 2.5 models think by default: billed, but no thought parts unless asked for.
    expect(u.thoughtsTokenCount).toBeGreaterThan(0);
    expect(answerText(json, true)).toBe('');
    expect(u.totalTokenCount).toBe(u.promptTokenCount + (u.candidatesTokenCount ?? 0) + (u.thoughtsTokenCount ?? 0));
    const rec = sim.records()[0];
    expect(rec).toMatchObject({ provider: 'gemini', promptTokens: u.promptTokenCount, completionTokens: 40 + (u.thoughtsTokenCount ?? 0), reasoningTokens: u.thoughtsTokenCount });
  });

  it('shows thought parts with includeThoughts, and does not think with thinkingBudget 0', async () => {
    const shown = (await (await gemini(sim, 'gemini-2.5-pro', user('think', { thinkingConfig: { includeThoughts: true } }))).json()) as GResponse;
    expect(answerText(shown, true).length).toBeGreaterThan(0);
    expect(shown.usageMetadata.thoughtsTokenCount).toBe(countWords(answerText(shown, true)));
    const none = (await (await gemini(sim, 'gemini-2.5-flash', user('quick', { thinkingConfig: { thinkingBudget: 0 } }))).json()) as GResponse;
    expect(none.usageMetadata.thoughtsTokenCount).toBeUndefined();
  });

  it('stops at maxOutputTokens with MAX_TOKENS (thinking included in the limit)', async () => {
    const json = (await (await gemini(sim, 'gemini-2.5-flash', user('long', { maxOutputTokens: 50 }))).json()) as GResponse;
    expect(json.candidates?.[0].finishReason).toBe('MAX_TOKENS');
    const u = json.usageMetadata;
    expect((u.candidatesTokenCount ?? 0) + (u.thoughtsTokenCount ?? 0)).toBe(50);
  });

  it('answers candidateCount candidates, stream and non-stream alike', async () => {
    const body = user('many', { candidateCount: 2, thinkingConfig: { thinkingBudget: 0 } });
    const json = (await (await gemini(sim, 'gemini-2.5-flash', body)).json()) as GResponse;
    expect(json.candidates).toHaveLength(2);
    const texts = (json.candidates ?? []).map((c) => (c.content?.parts ?? []).map((p) => p.text).join(''));
    expect(texts[0]).not.toBe(texts[1]);
    expect(json.usageMetadata.candidatesTokenCount).toBe(80);
    const events = jsonEvents(await readSse(await gemini(sim, 'gemini-2.5-flash', body, true))) as unknown as Array<GResponse & { candidates: Array<{ index: number }> }>;
    const streamed = ['', ''];
    for (const e of events) for (const c of e.candidates) streamed[c.index] += (c as { content?: { parts: Array<{ text?: string }> } }).content?.parts.map((p) => p.text).join('') ?? '';
    expect(streamed).toEqual(texts);
    expect(events.at(-1)?.usageMetadata).toEqual(json.usageMetadata);
  });

  it('honours stopSequences', async () => {
    const plain = answerText((await (await gemini(sim, 'gemini-2.5-flash', user('stops'))).json()) as GResponse);
    const stopWord = plain.split(' ')[4];
    const json = (await (await gemini(sim, 'gemini-2.5-flash', user('stops', { stopSequences: [stopWord] }))).json()) as GResponse;
    expect(answerText(json)).toBe(plain.slice(0, plain.indexOf(stopWord)));
    expect(json.candidates?.[0].finishReason).toBe('STOP');
  });

  it('answers JSON valid against responseJsonSchema', async () => {
    const schema = { type: 'object', properties: { city: { type: 'string' }, temp: { type: 'number', minimum: -50, maximum: 50 } }, required: ['city', 'temp'] };
    const json = (await (await gemini(sim, 'gemini-2.5-flash', user('json', { responseMimeType: 'application/json', responseJsonSchema: schema }))).json()) as GResponse;
    const value: unknown = JSON.parse(answerText(json));
    expect(z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]).safeParse(value).success).toBe(true);
  });

  it('counts an inlineData image at a fixed 258 tokens', async () => {
    const body = { contents: [{ role: 'user', parts: [{ text: 'what is it' }, { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } }] }] };
    const json = (await (await gemini(sim, 'gemini-2.5-flash', body)).json()) as GResponse;
    expect(json.usageMetadata.promptTokenCount).toBe(countTokens('what is it') + 258);
  });

  it('blocks a [[sim:block]] prompt with promptFeedback and no candidates', async () => {
    const json = (await (await gemini(sim, 'gemini-2.5-flash', user('nope [[sim:block]]'))).json()) as GResponse;
    expect(json.promptFeedback?.blockReason).toBe('SAFETY');
    expect(json.candidates).toBeUndefined();
    expect(json.usageMetadata.promptTokenCount).toBeGreaterThan(0);
  });

  it('forces every finishReason with [[sim:finish=X]]', async () => {
    const reasons = ['STOP', 'MAX_TOKENS', 'SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'LANGUAGE', 'MALFORMED_FUNCTION_CALL', 'UNEXPECTED_TOOL_CALL', 'TOO_MANY_TOOL_CALLS', 'OTHER'];
    for (const r of reasons) {
      const body = user(`go [[sim:finish=${r}]]`);
      const json = (await (await gemini(sim, 'gemini-2.5-flash-lite', body)).json()) as GResponse;
      expect(json.candidates?.[0].finishReason).toBe(r);
      const stream = jsonEvents(await readSse(await gemini(sim, 'gemini-2.5-flash-lite', body, true))) as unknown as GResponse[];
      expect(stream.at(-1)?.candidates?.[0].finishReason).toBe(r);
    }
  });

  it('rejects a bad or missing key with 400 API_KEY_INVALID and accepts ?key=', async () => {
    for (const headers of [{ 'x-goog-api-key': 'wrong' }, {}] as Array<Record<string, string>>) {
      const res = await post(`${sim.baseUrls.gemini}/v1beta/models/gemini-2.5-flash:generateContent`, user('x'), headers);
      expect(res.status).toBe(400);
      const err = (await res.json()).error;
      expect(err).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
      expect(err.details[0].reason).toBe('API_KEY_INVALID');
    }
    const ok = await post(`${sim.baseUrls.gemini}/v1beta/models/gemini-2.5-flash:generateContent?key=sim-gemini-key`, user('x'));
    expect(ok.status).toBe(200);
  });

  it('answers 404 NOT_FOUND for an unknown model and 400 for missing contents', async () => {
    const res = await gemini(sim, 'gemini-0-nonexistent', user('x'));
    expect(res.status).toBe(404);
    expect((await res.json()).error.status).toBe('NOT_FOUND');
    const empty = await gemini(sim, 'gemini-2.5-flash', { contents: [] });
    expect(empty.status).toBe(400);
  });
});

describe('gemini streamGenerateContent', () => {
  it('streams SSE events separated by \\n\\n and \\r\\n\\r\\n, no [DONE], same text and final usage as non-stream', async () => {
    const body = user('Stream please', { thinkingConfig: { includeThoughts: true } });
    const res = await gemini(sim, 'gemini-2.5-flash', body, true);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const s = await readSse(res);
    expect(s.raw).toContain('\r\n\r\n');
    expect(s.raw).toMatch(/[^\r]\n\n/);
    expect(s.data).not.toContain('[DONE]');
    const events = jsonEvents(s) as unknown as GResponse[];
    expect(events.length).toBeGreaterThan(3);
    expect(events.every((e) => e.usageMetadata && e.responseId === events[0].responseId && e.modelVersion === 'gemini-2.5-flash')).toBe(true);
    expect(events.slice(0, -1).every((e) => e.candidates?.[0].finishReason === undefined)).toBe(true);
    const full = (await (await gemini(sim, 'gemini-2.5-flash', body)).json()) as GResponse;
    expect(events.map((e) => answerText(e)).join('')).toBe(answerText(full));
    expect(events.map((e) => answerText(e, true)).join('')).toBe(answerText(full, true));
    expect(events.at(-1)?.usageMetadata).toEqual(full.usageMetadata);
  });

  it('streams a JSON array without alt=sse', async () => {
    const res = await post(`${sim.baseUrls.gemini}/v1beta/models/gemini-2.5-flash:streamGenerateContent`, user('array'), { 'x-goog-api-key': 'sim-gemini-key' });
    const arr = JSON.parse(await res.text()) as GResponse[];
    expect(Array.isArray(arr)).toBe(true);
    expect(arr.at(-1)?.candidates?.[0].finishReason).toBe('STOP');
  });
});

function countWords(text: string): number {
  return text.split(/(?= )/).reduce((n, p) => n + countTokens(p), 0);
}
