// The provider contract suite: one set of behaviours every adapter must show against the simulator's real wire formats.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chatRequestSchema, embeddingRequestSchema, type ChatChunk, type ChatCompletion, type ChatRequest, type ToolCall } from '../../src/api/openai.js';
import { GatewayError } from '../../src/errors.js';
import { createUpstreamHttp, type UpstreamHttp, type UpstreamHttpOptions } from '../../src/providers/http.js';
import { UpstreamError, type CallContext, type Provider, type ProviderName } from '../../src/providers/types.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';

export interface ContractSpec {
  provider: ProviderName;
  /** Builds the adapter against the simulator with the given key. */
  make(sim: Simulator, http: UpstreamHttp, apiKey: string): Provider;
  validKey: string;
  models: { chat: string; reasoning: string; embedding: string | null };
  /** Whether the reasoning text itself is visible (DeepSeek, Gemini) or only counted (OpenAI). */
  reasoningContent: boolean;
  jsonSchema: boolean;
  vision: boolean;
}

export const httpOptions: UpstreamHttpOptions = { connectTimeoutMs: 2_000, timeoutMs: 10_000, bodyIdleTimeoutMs: 10_000, connectionsPerOrigin: 16 };

const PNG_1PX = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';

export const weatherTools = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather in a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
  {
    type: 'function',
    function: { name: 'get_time', description: 'Local time in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
  },
];

export function chatReq(model: string, extra: Record<string, unknown> = {}): ChatRequest {
  return chatRequestSchema.parse({ model, messages: [{ role: 'user', content: 'Tell me a short story about a lighthouse.' }], ...extra });
}

/** The call's controller is the test's: aborting it is the client going away; the upstream deadline aborts it too. */
export function ctxFor(model: string, ac: AbortController = new AbortController()): CallContext {
  return { upstreamModel: model, requestId: `req-${Math.random().toString(36).slice(2)}`, signal: ac.signal, abort: (r) => ac.abort(r) };
}

export async function collect(stream: AsyncIterable<ChatChunk>): Promise<ChatChunk[]> {
  const out: ChatChunk[] = [];
  for await (const c of stream) out.push(c);
  return out;
}

/** The assistant message a client rebuilds from stream deltas (text, reasoning, tool calls by index). */
export function assemble(chunks: ChatChunk[]) {
  let content = '';
  let reasoning = '';
  let finish: string | null = null;
  const calls: ToolCall[] = [];
  for (const c of chunks) {
    for (const ch of c.choices) {
      if (ch.index !== 0) continue;
      content += ch.delta.content ?? '';
      reasoning += ch.delta.reasoning_content ?? '';
      for (const d of ch.delta.tool_calls ?? []) {
        const call = (calls[d.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } });
        if (d.id) call.id = d.id;
        if (d.function?.name) call.function.name += d.function.name;
        if (d.function?.arguments) call.function.arguments += d.function.arguments;
      }
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  const usage = chunks.find((c) => c.choices.length === 0 && c.usage)?.usage ?? null;
  return { content, reasoning, finish, calls, usage };
}

export async function caught(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

export async function upstreamError(p: Promise<unknown>): Promise<UpstreamError> {
  const e = await caught(p);
  if (!(e instanceof UpstreamError)) throw new Error(`expected UpstreamError, got ${String(e)}`);
  return e;
}

export function providerContract(spec: ContractSpec): void {
  describe(`${spec.provider} adapter contract (simulator)`, () => {
    let sim: Simulator;
    let http: UpstreamHttp;
    let provider: Provider;
    const m = spec.models;

    beforeAll(async () => {
      sim = await startSimulator({ seed: 7 });
      http = createUpstreamHttp(httpOptions);
      provider = spec.make(sim, http, spec.validKey);
    });
    afterAll(async () => {
      await http?.close();
      await sim?.close();
    });
    beforeEach(() => sim.reset());

    it('chat: text, stop, usage equal to what the upstream billed', async () => {
      const c = await provider.chat(chatReq(m.chat), ctxFor(m.chat));
      expect(c.object).toBe('chat.completion');
      expect(c.choices[0].message.role).toBe('assistant');
      expect((c.choices[0].message.content ?? '').length).toBeGreaterThan(0);
      expect(c.choices[0].finish_reason).toBe('stop');
      const rec = sim.records().at(-1);
      expect(c.usage?.prompt_tokens).toBe(rec?.promptTokens);
      expect(c.usage?.completion_tokens).toBe(rec?.completionTokens);
      expect(c.usage?.total_tokens).toBe((c.usage?.prompt_tokens ?? 0) + (c.usage?.completion_tokens ?? 0));
    });

    it('stream: role first, one id, concatenated text = non-stream text, final usage chunk', async () => {
      const whole = await provider.chat(chatReq(m.chat), ctxFor(m.chat));
      const chunks = await collect(await provider.chatStream(chatReq(m.chat, { stream: true }), ctxFor(m.chat)));
      expect(chunks[0].choices[0].delta.role).toBe('assistant');
      expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
      expect(new Set(chunks.map((c) => c.created)).size).toBe(1);
      const a = assemble(chunks);
      expect(a.content).toBe(whole.choices[0].message.content);
      expect(a.finish).toBe('stop');
      const last = chunks.at(-1);
      expect(last?.choices).toEqual([]);
      expect(a.usage?.completion_tokens).toBe(whole.usage?.completion_tokens);
      expect(a.usage?.prompt_tokens).toBe(whole.usage?.prompt_tokens);
      expect(a.usage?.completion_tokens).toBe(sim.records().at(-1)?.completionTokens);
    });

    it('stop sequences end the text before the sequence, stream and non-stream alike', async () => {
      const full = (await provider.chat(chatReq(m.chat), ctxFor(m.chat))).choices[0].message.content ?? '';
      const words = full.split(' ');
      expect(words.length).toBeGreaterThan(4);
      const stop = ` ${words[3]}`;
      const expected = full.slice(0, full.indexOf(stop));
      const c = await provider.chat(chatReq(m.chat, { stop: [stop] }), ctxFor(m.chat));
      expect(c.choices[0].message.content).toBe(expected);
      expect(c.choices[0].finish_reason).toBe('stop');
      const a = assemble(await collect(await provider.chatStream(chatReq(m.chat, { stop, stream: true }), ctxFor(m.chat))));
      expect(a.content).toBe(expected);
    });

    for (const stream of [false, true]) {
      it(`two-turn tool conversation (${stream ? 'stream' : 'non-stream'})`, async () => {
        const first = [{ role: 'user', content: 'What is the weather in Paris?' }];
        const r1 = chatReq(m.chat, { messages: first, tools: weatherTools, tool_choice: { type: 'function', function: { name: 'get_weather' } }, stream });
        let calls: ToolCall[];
        let finish: string | null;
        if (stream) {
          const a = assemble(await collect(await provider.chatStream(r1, ctxFor(m.chat))));
          calls = a.calls;
          finish = a.finish;
        } else {
          const c = await provider.chat(r1, ctxFor(m.chat));
          calls = c.choices[0].message.tool_calls ?? [];
          finish = c.choices[0].finish_reason;
        }
        expect(finish).toBe('tool_calls');
        expect(calls.length).toBe(1);
        expect(calls[0].function.name).toBe('get_weather');
        const args: unknown = JSON.parse(calls[0].function.arguments);
        expect(typeof (args as { city?: unknown }).city).toBe('string');
        expect(calls[0].id.length).toBeGreaterThan(0);

        const second = [
          ...first,
          { role: 'assistant', content: null, tool_calls: calls },
          { role: 'tool', tool_call_id: calls[0].id, content: '{"temperature_c": 21, "sky": "clear"}' },
        ];
        const r2 = chatReq(m.chat, { messages: second, tools: weatherTools, stream });
        const text = stream
          ? assemble(await collect(await provider.chatStream(r2, ctxFor(m.chat)))).content
          : ((await provider.chat(r2, ctxFor(m.chat))).choices[0].message.content ?? '');
        expect(text.length).toBeGreaterThan(0);
      });
    }

    it('parallel tool calls get distinct ids and indexes', async () => {
      const r = chatReq(m.chat, { messages: [{ role: 'user', content: 'Weather and time in Rome? [[sim:parallel]]' }], tools: weatherTools });
      const c = await provider.chat(r, ctxFor(m.chat));
      const calls = c.choices[0].message.tool_calls ?? [];
      expect(calls.map((x) => x.function.name)).toEqual(['get_weather', 'get_time']);
      expect(new Set(calls.map((x) => x.id)).size).toBe(2);
      const a = assemble(await collect(await provider.chatStream({ ...r, stream: true }, ctxFor(m.chat))));
      expect(a.calls.map((x) => x.function.name)).toEqual(['get_weather', 'get_time']);
    });

    it('json_schema output (or a 400 naming response_format where unsupported)', async () => {
      const schema = { type: 'object', properties: { name: { type: 'string' }, age: { type: 'integer' } }, required: ['name', 'age'], additionalProperties: false };
      const r = chatReq(m.chat, { response_format: { type: 'json_schema', json_schema: { name: 'person', strict: true, schema } } });
      if (!spec.jsonSchema) {
        const e = await caught(provider.chat(r, ctxFor(m.chat)));
        expect(e).toBeInstanceOf(GatewayError);
        expect([(e as GatewayError).status, (e as GatewayError).param]).toEqual([400, 'response_format']);
        return;
      }
      const c = await provider.chat(r, ctxFor(m.chat));
      const value = JSON.parse(c.choices[0].message.content ?? '') as { name: unknown; age: unknown };
      expect(typeof value.name).toBe('string');
      expect(Number.isInteger(value.age)).toBe(true);
    });

    it('image request (data: URL)', async () => {
      const r = chatReq(m.chat, {
        messages: [{ role: 'user', content: [{ type: 'text', text: 'What is in this image?' }, { type: 'image_url', image_url: { url: PNG_1PX } }] }],
      });
      if (!spec.vision) {
        const e = await upstreamError(provider.chat(r, ctxFor(m.chat)));
        expect(e.status).toBe(400);
        return;
      }
      const c = await provider.chat(r, ctxFor(m.chat));
      expect((c.choices[0].message.content ?? '').length).toBeGreaterThan(0);
    });

    it('reasoning: tokens inside completion_tokens, text visible where the provider shows it', async () => {
      const r = chatReq(m.reasoning, { reasoning_effort: 'low' });
      const c = await provider.chat(r, ctxFor(m.reasoning));
      const reasoningTokens = c.usage?.completion_tokens_details?.reasoning_tokens ?? 0;
      expect(reasoningTokens).toBeGreaterThan(0);
      expect(c.usage?.completion_tokens).toBe(sim.records().at(-1)?.completionTokens);
      expect(c.usage?.completion_tokens_details?.reasoning_tokens).toBe(sim.records().at(-1)?.reasoningTokens);
      const a = assemble(await collect(await provider.chatStream({ ...r, stream: true }, ctxFor(m.reasoning))));
      if (spec.reasoningContent) {
        expect((c.choices[0].message.reasoning_content ?? '').length).toBeGreaterThan(0);
        expect(a.reasoning).toBe(c.choices[0].message.reasoning_content);
      } else {
        expect(c.choices[0].message.reasoning_content ?? '').toBe('');
      }
      expect(a.content).toBe(c.choices[0].message.content);
    });

    it('finish reasons: length and content_filter', async () => {
      const short = await provider.chat(chatReq(m.chat, { max_completion_tokens: 3 }), ctxFor(m.chat));
      expect(short.choices[0].finish_reason).toBe('length');
      const blocked = chatReq(m.chat, { messages: [{ role: 'user', content: 'something bad [[sim:block]]' }] });
      const b = await provider.chat(blocked, ctxFor(m.chat));
      expect(b.choices[0].finish_reason).toBe('content_filter');
      const s = assemble(await collect(await provider.chatStream({ ...blocked, stream: true }, ctxFor(m.chat))));
      expect(s.finish).toBe('content_filter');
    });

    if (m.embedding) {
      const model = m.embedding;
      it('embeddings: float and base64 (float32 LE) carry the same vectors', async () => {
        const input = ['first text', 'second text'];
        const f = await provider.embed(embeddingRequestSchema.parse({ model, input, encoding_format: 'float' }), ctxFor(model));
        const b = await provider.embed(embeddingRequestSchema.parse({ model, input, encoding_format: 'base64' }), ctxFor(model));
        expect(f.response.data.map((d) => d.index)).toEqual([0, 1]);
        const floats = f.response.data[0].embedding as number[];
        expect(floats.length).toBeGreaterThan(0);
        const buf = Buffer.from(b.response.data[0].embedding as string, 'base64');
        const decoded = Array.from({ length: buf.length / 4 }, (_, i) => buf.readFloatLE(i * 4));
        expect(decoded).toEqual(floats.map((x) => Math.fround(x)));
        expect(f.response.usage.prompt_tokens).toBeGreaterThan(0);
        const dims = await provider.embed(embeddingRequestSchema.parse({ model, input: 'x', dimensions: 8 }), ctxFor(model));
        expect((dims.response.data[0].embedding as number[]).length).toBe(8);
      });
    }

    describe('upstream failures', () => {
      it.each([
        [429, 'rate_limit_exceeded'],
        [500, null],
        [503, null],
      ])('status %i → UpstreamError http, retryable', async (status, code) => {
        sim.setFaults([{ provider: spec.provider, fault: { type: 'status', status, retryAfterS: 2 }, times: 1 }]);
        const e = await upstreamError(provider.chat(chatReq(m.chat), ctxFor(m.chat)));
        expect([e.kind, e.status, e.retryable]).toEqual(['http', status, true]);
        if (code) expect(e.code).toBe(code);
        expect(e.retryAfterMs).toBe(2000);
      });

      it('a status fault on a stream rejects chatStream itself (before any chunk)', async () => {
        sim.setFaults([{ provider: spec.provider, fault: { type: 'status', status: 503 }, times: 1 }]);
        const e = await upstreamError(provider.chatStream(chatReq(m.chat, { stream: true }), ctxFor(m.chat)));
        expect(e.status).toBe(503);
      });

      it('unknown model → 404 model_not_found, not retryable', async () => {
        const e = await upstreamError(provider.chat(chatReq('no-such-model'), ctxFor('no-such-model')));
        expect([e.kind, e.status, e.code, e.retryable]).toEqual(['http', 404, 'model_not_found', false]);
      });

      it('our key rejected → kind auth, and the key never appears in the message', async () => {
        const bad = spec.make(sim, http, 'sk-wrong-key-123456');
        const e = await upstreamError(bad.chat(chatReq(m.chat), ctxFor(m.chat)));
        expect(e.kind).toBe('auth');
        expect(e.message).not.toContain('sk-wrong-key-123456');
        sim.setFaults([{ provider: spec.provider, fault: { type: 'auth' }, times: 1 }]);
        const f = await upstreamError(provider.chat(chatReq(m.chat), ctxFor(m.chat)));
        expect(f.kind).toBe('auth');
        expect(f.message).not.toContain(spec.validKey);
      });

      it('connection reset → kind reset', async () => {
        sim.setFaults([{ provider: spec.provider, fault: { type: 'reset' }, times: 1 }]);
        const e = await upstreamError(provider.chat(chatReq(m.chat), ctxFor(m.chat)));
        expect(e.kind).toBe('reset');
        expect(e.retryable).toBe(true);
      });

      it('hang → kind timeout', async () => {
        const quick = createUpstreamHttp({ ...httpOptions, timeoutMs: 300 });
        try {
          sim.setFaults([{ provider: spec.provider, fault: { type: 'hang' }, times: 1 }]);
          const e = await upstreamError(spec.make(sim, quick, spec.validKey).chat(chatReq(m.chat), ctxFor(m.chat)));
          expect(e.kind).toBe('timeout');
        } finally {
          await quick.close();
        }
      });

      it('stream cut midway → kind stream; error event in the stream → kind stream', async () => {
        sim.setFaults([{ provider: spec.provider, fault: { type: 'cut', afterChunks: 2 }, times: 1 }]);
        const cut = await provider.chatStream(chatReq(m.chat, { stream: true }), ctxFor(m.chat));
        expect((await upstreamError(collect(cut))).kind).toBe('stream');
        sim.setFaults([{ provider: spec.provider, fault: { type: 'error_event', afterChunks: 2 }, times: 1 }]);
        const ev = await provider.chatStream(chatReq(m.chat, { stream: true }), ctxFor(m.chat));
        expect((await upstreamError(collect(ev))).kind).toBe('stream');
      });

      it('abort via signal before headers → kind aborted', async () => {
        sim.setFaults([{ provider: spec.provider, fault: { type: 'hang' }, times: 1 }]);
        const ac = new AbortController();
        const p = provider.chat(chatReq(m.chat), ctxFor(m.chat, ac));
        setTimeout(() => ac.abort(), 50);
        const e = await upstreamError(p);
        // That the upstream sees the cancel is checked deterministically in openai-compatible.test.ts.
        expect([e.kind, e.retryable]).toEqual(['aborted', false]);
      });
    });

    it('abort in the middle of a stream stops the upstream answer', async () => {
      const slow = await startSimulator({ seed: 7, chunkDelayMs: 40, defaultOutputTokens: 200 });
      try {
        const p = spec.make(slow, http, spec.validKey);
        const ac = new AbortController();
        const stream = await p.chatStream(chatReq(m.chat, { stream: true }), ctxFor(m.chat, ac));
        const it = stream[Symbol.asyncIterator]();
        await it.next();
        ac.abort();
        const e = await upstreamError((async () => {
          for (;;) if ((await it.next()).done) return;
        })());
        expect(e.kind).toBe('aborted');
        await expect.poll(() => slow.records().some((r) => r.aborted), { timeout: 10_000 }).toBe(true);
      } finally {
        await slow.close();
      }
    });
  });
}

export function lastCompletion(c: ChatCompletion): string {
  return c.choices[0].message.content ?? '';
}
