// Embeddings on the wire: OpenAI float/base64 (float32 LE) with dimensions and usage; Gemini embedContent/batchEmbedContents without usage.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { countEmbeddingInputTokens, countTokens } from '../../src/metering/tokens.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { KEYS, post } from './helpers.js';

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

const embed = (body: unknown) => post(`${sim.baseUrls.openai}/embeddings`, body, { authorization: `Bearer ${KEYS.openai}` });
const gemEmbed = (model: string, method: string, body: unknown) => post(`${sim.baseUrls.gemini}/v1beta/models/${model}:${method}`, body, { 'x-goog-api-key': KEYS.gemini });

function decodeBase64(b64: string): number[] {
  const buf = Buffer.from(b64, 'base64');
  return Array.from(new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4));
}
const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

describe('openai embeddings', () => {
  it('answers float vectors of the model size with usage counted by the tokenizer', async () => {
    const input = ['first text', 'second, longer text'];
    const res = await embed({ model: 'text-embedding-3-small', input, encoding_format: 'float' });
    expect(res.status).toBe(200);
    const json = await res.json();
    expect(json.object).toBe('list');
    expect(json.model).toBe('text-embedding-3-small');
    expect(json.data.map((d: { index: number }) => d.index)).toEqual([0, 1]);
    expect(json.data[0].embedding).toHaveLength(1536);
    expect(norm(json.data[0].embedding)).toBeCloseTo(1, 4);
    expect(json.data[0].embedding).not.toEqual(json.data[1].embedding);
    expect(json.usage).toEqual({ prompt_tokens: countEmbeddingInputTokens(input), total_tokens: countEmbeddingInputTokens(input) });
    expect(sim.records()[0]).toMatchObject({ endpoint: 'embeddings', provider: 'openai', promptTokens: countEmbeddingInputTokens(input) });
  });

  it('encodes base64 as little-endian float32 equal to the float answer, and honours dimensions', async () => {
    const f = await (await embed({ model: 'text-embedding-3-large', input: 'same', dimensions: 256 })).json();
    const b = await (await embed({ model: 'text-embedding-3-large', input: 'same', dimensions: 256, encoding_format: 'base64' })).json();
    expect(typeof b.data[0].embedding).toBe('string');
    expect(decodeBase64(b.data[0].embedding)).toEqual(f.data[0].embedding);
    expect(f.data[0].embedding).toHaveLength(256);
    const full = await (await embed({ model: 'text-embedding-3-large', input: 'same' })).json();
    expect(full.data[0].embedding).toHaveLength(3072);
  });

  it('accepts token arrays and rejects a chat model or a bad body', async () => {
    const tokens = await (await embed({ model: 'text-embedding-3-small', input: [[1, 2, 3], [4, 5]] })).json();
    expect(tokens.usage.prompt_tokens).toBe(5);
    const wrong = await embed({ model: 'gpt-4o-mini', input: 'x' });
    expect(wrong.status).toBe(404);
    expect((await wrong.json()).error.code).toBe('model_not_found');
    expect((await embed({ model: 'text-embedding-3-small' })).status).toBe(400);
  });
});

describe('gemini embeddings', () => {
  it('embedContent answers {embedding:{values}} with outputDimensionality and no usage', async () => {
    const res = await gemEmbed('gemini-embedding-001', 'embedContent', { content: { parts: [{ text: 'hello world' }] }, outputDimensionality: 768 });
    expect(res.status).toBe(200);
    const json = await res.json();
    expect(Object.keys(json)).toEqual(['embedding']);
    expect(json.embedding.values).toHaveLength(768);
    expect(norm(json.embedding.values)).toBeCloseTo(1, 4);
    expect(sim.records()[0]).toMatchObject({ provider: 'gemini', endpoint: 'embeddings', promptTokens: countTokens('hello world') });
  });

  it('batchEmbedContents answers one vector per request, deterministic', async () => {
    const body = { requests: ['a', 'b', 'a'].map((t) => ({ model: 'models/gemini-embedding-001', content: { parts: [{ text: t }] } })) };
    const json = await (await gemEmbed('gemini-embedding-001', 'batchEmbedContents', body)).json();
    expect(json.embeddings).toHaveLength(3);
    expect(json.embeddings[0].values).toHaveLength(3072);
    expect(json.embeddings[0].values).toEqual(json.embeddings[2].values);
    expect(json.embeddings[0].values).not.toEqual(json.embeddings[1].values);
    expect(json.usageMetadata).toBeUndefined();
  });

  it('rejects a chat model for embeddings with 404 and a bad key with 400', async () => {
    expect((await gemEmbed('gemini-2.5-flash', 'embedContent', { content: { parts: [{ text: 'x' }] } })).status).toBe(404);
    const bad = await post(`${sim.baseUrls.gemini}/v1beta/models/gemini-embedding-001:embedContent`, { content: { parts: [{ text: 'x' }] } }, { 'x-goog-api-key': 'nope' });
    expect(bad.status).toBe(400);
  });
});
