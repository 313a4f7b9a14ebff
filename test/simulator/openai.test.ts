// OpenAI wire format of the simulator over real HTTP: stream/non-stream equality, usage = tokenizer counts, include_usage, errors.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ChatRequest } from '../../src/api/openai.js';
import { countPromptTokens, countTokens } from '../../src/metering/tokens.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { chunks, eventually, KEYS, openai, readSse, streamedText } from './helpers.js';

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ seed: 7 });
});
afterAll(() => sim.close());
beforeEach(() => sim.reset());

const ask = (content: string, extra: Partial<ChatRequest> = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content }], ...extra });

describe('openai chat, non-stream', () => {
  it('answers a chat.completion whose usage equals the project tokenizer counts', async () => {
    const body = ask('What is a toll gate?');
    const res = await openai(sim, body);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toMatch(/^req_/);
    expect(res.headers.get('x-ratelimit-remaining-requests')).not.toBeNull();
    const json = await res.json();
    expect(json.object).toBe('chat.completion');
    expect(json.model).toBe('gpt-4o-mini');
    expect(json.choices[0].message.role).toBe('assistant');
    expect(json.choices[0].finish_reason).toBe('stop');
    const text: string = json.choices[0].message.content;
    expect(text.length).toBeGreaterThan(20);
    expect(json.usage.prompt_tokens).toBe(countPromptTokens(body as ChatRequest));
    // Every word piece of the default vocabulary is one token, so the default length is exact.
    expect(json.usage.completion_tokens).toBe(40);
    expect(json.usage.total_tokens).toBe(json.usage.prompt_tokens + 40);
    expect(json.usage.prompt_tokens_details.cached_tokens).toBe(0);
    expect(json.usage.completion_tokens_details.reasoning_tokens).toBe(0);
  });

  it('is deterministic for the same request and differs with another seed', async () => {
    const a = await (await openai(sim, ask('same', { seed: 1 }))).json();
    const b = await (await openai(sim, ask('same', { seed: 1 }))).json();
    const c = await (await openai(sim, ask('same', { seed: 2 }))).json();
    expect(a.choices[0].message.content).toBe(b.choices[0].message.content);
    expect(c.choices[0].message.content).not.toBe(a.choices[0].message.content);
    expect(a.id).not.toBe(b.id);
  });

  it('cuts at max_tokens with finish_reason length', async () => {
    const json = await (await openai(sim, ask('short please', { max_tokens: 5 }))).json();
    expect(json.choices[0].finish_reason).toBe('length');
    expect(json.usage.completion_tokens).toBe(5);
    expect(countTokens(json.choices[0].message.content)).toBeLessThanOrEqual(6);
    const roomy = await (await openai(sim, ask('short please', { max_completion_tokens: 500 }))).json();
    expect(roomy.choices[0].finish_reason).toBe('stop');
  });

  it('reports hidden reasoning tokens for gpt-5 models inside completion_tokens', async () => {
    const json = await (await openai(sim, { model: 'gpt-5-mini', messages: [{ role: 'user', content: 'think' }] })).json();
    const u = json.usage;
    expect(u.completion_tokens_details.reasoning_tokens).toBeGreaterThan(0);
    expect(u.completion_tokens).toBeGreaterThan(u.completion_tokens_details.reasoning_tokens);
    expect(json.choices[0].message.reasoning_content).toBeUndefined();
    const low = await (await openai(sim, { model: 'gpt-5-mini', reasoning_effort: 'low', messages: [{ role: 'user', content: 'think' }] })).json();
    expect(low.usage.completion_tokens_details.reasoning_tokens).toBeLessThan(u.completion_tokens_details.reasoning_tokens);
  });

  it('rejects stream_options without stream as OpenAI does', async () => {
    const res = await openai(sim, ask('x', { stream_options: { include_usage: true } }));
    expect(res.status).toBe(400);
    expect((await res.json()).error.param).toBe('stream_options');
  });

  it('rejects max_tokens on a reasoning model as OpenAI does', async () => {
    const res = await openai(sim, { model: 'gpt-5', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatchObject({ param: 'max_tokens', type: 'invalid_request_error' });
  });

  it('answers json_object and json_schema formats with valid JSON', async () => {
    const obj = await (await openai(sim, ask('json', { response_format: { type: 'json_object' } }))).json();
    expect(typeof JSON.parse(obj.choices[0].message.content)).toBe('object');
    const schema = {
      type: 'object',
      properties: { name: { type: 'string' }, age: { type: 'integer', minimum: 0, maximum: 120 }, tags: { type: 'array', items: { type: 'string', enum: ['a', 'b'] } } },
      required: ['name', 'age', 'tags'],
      additionalProperties: false,
    };
    const res = await openai(sim, ask('json', { response_format: { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } } }));
    const json = await res.json();
    const value = JSON.parse(json.choices[0].message.content);
    expect(z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]).safeParse(value).success).toBe(true);
    expect(json.usage.prompt_tokens).toBe(countPromptTokens(ask('json', { response_format: { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } } }) as ChatRequest));
  });

  it('accepts image parts and counts them as the project tokenizer does', async () => {
    const body = { model: 'gpt-4o', messages: [{ role: 'user', content: [{ type: 'text', text: 'what is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] }] };
    const json = await (await openai(sim, body)).json();
    expect(json.usage.prompt_tokens).toBe(countPromptTokens(body as ChatRequest));
  });

  it('ends before the first stop sequence, with finish_reason stop, stream and non-stream alike', async () => {
    const plain = (await (await openai(sim, ask('stop test'))).json()).choices[0].message.content as string;
    const stopWord = plain.split(' ')[5];
    const body = ask('stop test', { stop: [stopWord, 'zzz-never'] });
    const json = await (await openai(sim, body)).json();
    const text: string = json.choices[0].message.content;
    expect(text).toBe(plain.slice(0, plain.indexOf(stopWord)));
    expect(json.choices[0].finish_reason).toBe('stop');
    const s = await readSse(await openai(sim, { ...body, stream: true, stream_options: { include_usage: true } }));
    expect(streamedText(s)).toBe(text);
    expect(chunks(s).at(-1)?.usage?.completion_tokens).toBe(json.usage.completion_tokens);
    expect(json.usage.completion_tokens).toBeLessThan(40);
  });

  it('answers n choices (the first as for n=1), usage summed, streamed by choice index', async () => {
    const one = await (await openai(sim, ask('several'))).json();
    const body = ask('several', { n: 3 });
    const json = await (await openai(sim, body)).json();
    const texts: string[] = json.choices.map((c: { message: { content: string } }) => c.message.content);
    expect(json.choices.map((c: { index: number }) => c.index)).toEqual([0, 1, 2]);
    expect(texts[0]).toBe(one.choices[0].message.content);
    expect(new Set(texts).size).toBe(3);
    expect(json.usage.completion_tokens).toBe(120);
    expect(json.usage.prompt_tokens).toBe(one.usage.prompt_tokens);
    const s = await readSse(await openai(sim, { ...body, stream: true, stream_options: { include_usage: true } }));
    const byIndex = ['', '', ''];
    for (const c of chunks(s)) for (const ch of c.choices as unknown as Array<{ index: number; delta: { content?: string } }>) byIndex[ch.index] += ch.delta.content ?? '';
    expect(byIndex).toEqual(texts);
    expect(chunks(s).at(-1)?.usage?.completion_tokens).toBe(120);
  });

  it('answers content_filter for a blocked prompt', async () => {
    const json = await (await openai(sim, ask('bad [[sim:block]]'))).json();
    expect(json.choices[0].finish_reason).toBe('content_filter');
    expect(json.usage.completion_tokens).toBe(0);
  });
});

describe('openai chat, stream', () => {
  it('streams the same text as the non-stream answer, role first, no usage without include_usage', async () => {
    const body = ask('Tell me about roads.');
    const full = await (await openai(sim, body)).json();
    const res = await openai(sim, { ...body, stream: true });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const s = await readSse(res);
    expect(s.data[s.data.length - 1]).toBe('[DONE]');
    expect(s.raw.endsWith('data: [DONE]\n\n')).toBe(true);
    const cs = chunks(s);
    expect(cs[0].choices[0].delta.role).toBe('assistant');
    expect(cs.every((c) => !('usage' in c))).toBe(true);
    expect(streamedText(s)).toBe(full.choices[0].message.content);
    expect(cs[cs.length - 1].choices[0].finish_reason).toBe('stop');
    const ids = new Set(jsonIds(s.data));
    expect(ids.size).toBe(1);
  });

  it('with include_usage: usage null on every chunk and a final choices:[] chunk with the usage before [DONE]', async () => {
    const body = ask('Usage please', { max_tokens: 12 });
    const s = await readSse(await openai(sim, { ...body, stream: true, stream_options: { include_usage: true } }));
    const cs = chunks(s);
    const last = cs[cs.length - 1];
    expect(last.choices).toEqual([]);
    expect(cs.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    const pieces = cs.flatMap((c) => c.choices.map((ch) => ch.delta.content ?? '')).filter((p) => p !== '');
    const sum = pieces.reduce((n, p) => n + countTokens(p), 0);
    expect(last.usage).toMatchObject({ prompt_tokens: countPromptTokens(body as ChatRequest), completion_tokens: sum, total_tokens: countPromptTokens(body as ChatRequest) + sum });
    expect(cs[cs.length - 2].choices[0].finish_reason).toBe('length');
    const rec = await eventually(() => {
      const r = sim.records().find((x) => x.stream);
      if (!r) throw new Error('no record yet');
      return r;
    });
    expect(rec).toMatchObject({ provider: 'openai', endpoint: 'chat', status: 200, completionTokens: sum, promptTokens: countPromptTokens(body as ChatRequest), aborted: false, fault: null });
  });

  it('streams reasoning models with their reasoning tokens in the usage chunk', async () => {
    const body = { model: 'gpt-5-nano', messages: [{ role: 'user', content: 'hi' }] };
    const s = await readSse(await openai(sim, { ...body, stream: true, stream_options: { include_usage: true } }));
    const usage = chunks(s).at(-1)?.usage as { completion_tokens: number; completion_tokens_details: { reasoning_tokens: number } };
    const text = streamedText(s);
    expect(usage.completion_tokens_details.reasoning_tokens).toBeGreaterThan(0);
    expect(usage.completion_tokens).toBeGreaterThan(usage.completion_tokens_details.reasoning_tokens);
    const full = await (await openai(sim, body)).json();
    expect(full.choices[0].message.content).toBe(text);
    expect(full.usage.completion_tokens).toBe(usage.completion_tokens);
  });
});

describe('openai errors and models', () => {
  it('rejects a wrong or missing key with 401 invalid_api_key', async () => {
    for (const headers of [{ authorization: 'Bearer nope' }, { authorization: '' }]) {
      const res = await fetch(`${sim.baseUrls.openai}/chat/completions`, { method: 'POST', headers, body: JSON.stringify(ask('x')) });
      expect(res.status).toBe(401);
      expect((await res.json()).error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_api_key' });
    }
  });

  it('answers 404 model_not_found for an unknown model and 400 for bad JSON or a bad field', async () => {
    const unknown = await openai(sim, { ...ask('x'), model: 'gpt-9-imaginary' });
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error.code).toBe('model_not_found');
    const bad = await openai(sim, '{"model":');
    expect(bad.status).toBe(400);
    const field = await openai(sim, { model: 'gpt-4o-mini', messages: [] });
    expect(field.status).toBe(400);
    expect((await field.json()).error.param).toBe('messages');
  });

  it('accepts any model name with acceptAnyModel', async () => {
    const loose = await startSimulator({ acceptAnyModel: true });
    try {
      const res = await openai(loose, { ...ask('x'), model: 'my-fine-tune' });
      expect(res.status).toBe(200);
      expect((await res.json()).model).toBe('my-fine-tune');
    } finally {
      await loose.close();
    }
  });

  it('lists the catalog models of OpenAI', async () => {
    const res = await fetch(`${sim.baseUrls.openai}/models`, { headers: { authorization: `Bearer ${KEYS.openai}` } });
    const json = await res.json();
    expect(json.object).toBe('list');
    const ids = json.data.map((m: { id: string }) => m.id);
    expect(ids).toContain('gpt-4o-mini');
    expect(ids).toContain('text-embedding-3-small');
    expect(ids).not.toContain('deepseek-flash');
    expect(json.data[0]).toMatchObject({ object: 'model', owned_by: expect.any(String) });
  });
});

function jsonIds(data: string[]): string[] {
  return data.filter((d) => d !== '[DONE]').map((d) => (JSON.parse(d) as { id: string }).id);
}
