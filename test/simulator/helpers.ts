// Raw-HTTP helpers for the simulator's wire-format tests: POST JSON, read SSE events and comments exactly as sent.
import type { Simulator } from '../../src/simulator/index.js';

export const KEYS = { openai: 'sk-sim-openai', deepseek: 'sk-sim-deepseek', gemini: 'sim-gemini-key' } as const;

export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

export function openai(sim: Simulator, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return post(`${sim.baseUrls.openai}/chat/completions`, body, { authorization: `Bearer ${KEYS.openai}`, ...headers });
}

export function deepseek(sim: Simulator, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return post(`${sim.baseUrls.deepseek}/chat/completions`, body, { authorization: `Bearer ${KEYS.deepseek}`, ...headers });
}

export function gemini(sim: Simulator, model: string, body: unknown, stream = false, headers: Record<string, string> = {}): Promise<Response> {
  const method = stream ? 'streamGenerateContent?alt=sse' : 'generateContent';
  return post(`${sim.baseUrls.gemini}/v1beta/models/${model}:${method}`, body, { 'x-goog-api-key': KEYS.gemini, ...headers });
}

export interface RawStream {
  /** The text exactly as received. */
  raw: string;
  /** `data:` payloads in order (including `[DONE]`). */
  data: string[];
  /** SSE comment lines (`: keep-alive`). */
  comments: string[];
}

/** Splits an SSE body on blank lines (\n\n or \r\n\r\n) like a conforming parser. */
export function parseSse(raw: string): RawStream {
  const data: string[] = [];
  const comments: string[] = [];
  for (const block of raw.split(/\r?\n\r?\n/)) {
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith('data: ')) data.push(line.slice(6));
      else if (line.startsWith(':')) comments.push(line);
    }
  }
  return { raw, data, comments };
}

export async function readSse(res: Response): Promise<RawStream> {
  return parseSse(await res.text());
}

/** JSON payloads of a stream, without [DONE]. */
export function jsonEvents(s: RawStream): Array<Record<string, unknown>> {
  return s.data.filter((d) => d !== '[DONE]').map((d) => JSON.parse(d) as Record<string, unknown>);
}

export interface OpenAIChunkLike {
  choices: Array<{ delta: { content?: string | null; reasoning_content?: string | null; role?: string; tool_calls?: Array<{ index: number; id?: string; function?: { name?: string; arguments?: string } }> }; finish_reason: string | null }>;
  usage?: Record<string, unknown> | null;
}

export function chunks(s: RawStream): OpenAIChunkLike[] {
  return jsonEvents(s) as unknown as OpenAIChunkLike[];
}

export function streamedText(s: RawStream, field: 'content' | 'reasoning_content' = 'content'): string {
  return chunks(s)
    .flatMap((c) => c.choices.map((ch) => ch.delta[field] ?? ''))
    .join('');
}

/** Waits until `check` passes (records are written just after the last byte). */
export async function eventually<T>(check: () => T, timeoutMs = 10_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    try {
      return check();
    } catch (e) {
      if (Date.now() - start > timeoutMs) throw e;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

export const longText = (n: number, word = 'context') => Array.from({ length: n }, (_, i) => `${word}${i % 50}`).join(' ');
