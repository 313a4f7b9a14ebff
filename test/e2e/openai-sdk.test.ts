// The official openai SDK against a running gateway, for each of the three providers through the simulator.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';

let h: Harness;
let client: OpenAI;
const clock = () => new Date('2026-11-25T12:00:00Z'); // before the Gemini 2.5 shutdown; off-peak for DeepSeek

beforeAll(async () => {
  h = await startHarness({ clock });
  const { key } = await h.createTenant('sdk-tenant');
  client = new OpenAI({ baseURL: h.baseURL, apiKey: key, maxRetries: 0 });
});
afterAll(async () => h?.close());

const models = ['gpt-4o-mini', 'deepseek-flash', 'gemini-2.5-flash'] as const;

describe.each(models)('chat through %s', (model) => {
  const messages = [{ role: 'user' as const, content: `Say something about ${model} please.` }];

  it('non-stream and stream give the same text; usage only when asked', async () => {
    const full = await client.chat.completions.create({ model, messages, seed: 7 });
    const text = full.choices[0].message.content ?? '';
    expect(text.length).toBeGreaterThan(0);
    expect(full.usage?.prompt_tokens).toBeGreaterThan(0);
    expect(full.usage?.completion_tokens).toBeGreaterThan(0);

    const withUsage = await client.chat.completions.create({ model, messages, seed: 7, stream: true, stream_options: { include_usage: true } });
    let streamed = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of withUsage) {
      streamed += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(streamed).toBe(text);
    expect(usage?.completion_tokens).toBe(full.usage?.completion_tokens);

    const noUsage = await client.chat.completions.create({ model, messages, seed: 7, stream: true });
    let again = '';
    let sawUsage = false;
    for await (const chunk of noUsage) {
      again += chunk.choices[0]?.delta?.content ?? '';
      if (chunk.usage || chunk.choices.length === 0) sawUsage = true;
    }
    expect(again).toBe(text);
    expect(sawUsage).toBe(false);
  });

  it('reports the provider and model in headers', async () => {
    const { response } = await client.chat.completions.create({ model, messages }).withResponse();
    const catalogProvider = model.startsWith('gpt') ? 'openai' : model.startsWith('deepseek') ? 'deepseek' : 'gemini';
    expect(response.headers.get('x-tollgate-provider')).toBe(catalogProvider);
    expect(response.headers.get('x-tollgate-model')).toBe(model);
    expect(response.headers.get('x-request-id')).toMatch(/^req_/);
    expect(response.headers.get('x-tollgate-cost-usd')).toMatch(/^\d+\.\d{12}$/);
  });
});

describe('models and embeddings', () => {
  it('lists catalog models and route aliases', async () => {
    const list = await client.models.list();
    const ids = list.data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['auto', 'gpt-4o-mini', 'deepseek-flash', 'gemini-2.5-flash']));
    expect(list.data.find((m) => m.id === 'deepseek-flash')?.owned_by).toBe('deepseek');
  });

  it('embeds with the SDK default base64 encoding and with floats', async () => {
    const r = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['hello', 'world'] });
    expect(r.data).toHaveLength(2);
    expect(Array.isArray(r.data[0].embedding)).toBe(true);
    expect(r.data[0].embedding.length).toBeGreaterThan(8);
    const f = await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello', encoding_format: 'float' });
    expect(f.data[0].embedding).toEqual(r.data[0].embedding);
    const g = await client.embeddings.create({ model: 'gemini-embedding-001', input: 'hello', dimensions: 16 });
    expect(g.data[0].embedding).toHaveLength(16);
  });
});

describe('errors arrive as the SDK typed errors', () => {
  it('unknown model → NotFoundError model_not_found', async () => {
    const e = await client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OpenAI.NotFoundError);
    expect((e as InstanceType<typeof OpenAI.APIError>).code).toBe('model_not_found');
    expect((e as InstanceType<typeof OpenAI.APIError>).param).toBe('model');
  });

  it('bad key → AuthenticationError', async () => {
    const bad = new OpenAI({ baseURL: h.baseURL, apiKey: 'tg_nope', maxRetries: 0 });
    const e = await bad.models.list().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OpenAI.AuthenticationError);
  });

  it('missing messages → BadRequestError naming the param', async () => {
    const e = await client.chat.completions.create({ model: 'gpt-4o-mini' } as never).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(OpenAI.BadRequestError);
    expect((e as InstanceType<typeof OpenAI.APIError>).param).toBe('messages');
    expect((e as InstanceType<typeof OpenAI.APIError>).type).toBe('invalid_request_error');
  });
});
