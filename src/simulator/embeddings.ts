// Embeddings: deterministic unit vectors; OpenAI /embeddings (float or base64 float32) and Gemini embedContent/batchEmbedContents.
import { embeddingRequestSchema } from '../api/openai.js';
import { countEmbeddingInputTokens, countTokens } from '../metering/tokens.js';
import { faultName, parseFaultSpec } from './faults.js';
import { geminiJsonBody, geminiKey, geminiModel } from './gemini.js';
import { geminiErrorBody, openaiErrorBody, sendJson } from './http-out.js';
import { checkOpenAIKey } from './openai.js';
import { applyFault, type Route, type RouteContext } from './server.js';
import type { Fault, SimProvider } from './types.js';
import { createRng, hashSeed, isRecord, Lru, sleep } from './util.js';

const DEFAULT_DIMENSIONS: Record<string, number> = { 'text-embedding-3-small': 1536, 'text-embedding-3-large': 3072, 'text-embedding-ada-002': 1536, 'gemini-embedding-001': 3072 };
const vectors = new Lru<string, Float32Array>(1024);

/**
 * A unit vector from (model, text). A shorter `dimensions` is the prefix of the full vector renormalised, as with
 * OpenAI's and Gemini's Matryoshka embeddings. Values are float32, so the float and base64 encodings agree exactly.
 */
export function embedVector(model: string, text: string, dimensions: number, seed: number): Float32Array {
  const key = `${model}\u0000${dimensions}\u0000${seed}\u0000${text}`;
  const hit = vectors.get(key);
  if (hit) return hit;
  const rng = createRng(hashSeed(model, text, seed));
  const raw = new Float64Array(dimensions);
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    raw[i] = rng() * 2 - 1;
    norm += raw[i] * raw[i];
  }
  norm = Math.sqrt(norm) || 1;
  const out = new Float32Array(dimensions);
  for (let i = 0; i < dimensions; i++) out[i] = raw[i] / norm;
  if (text.length < 4096) vectors.set(key, out);
  return out;
}

function faultFor(ctx: RouteContext, provider: SimProvider, model: string): Fault | null {
  const header = ctx.req.headers['x-sim-fault'];
  return ctx.state.faults.take(provider, model) ?? (typeof header === 'string' ? parseFaultSpec(header) : null);
}

async function openaiEmbeddings(ctx: RouteContext): Promise<void> {
  const { state, res } = ctx;
  if (checkOpenAIKey(ctx, 'openai') === null) return;
  let raw: unknown;
  try {
    raw = JSON.parse(ctx.body.toString('utf8'));
  } catch {
    return sendJson(res, 400, openaiErrorBody('We could not parse the JSON body of your request.', 'invalid_request_error', null));
  }
  const parsed = embeddingRequestSchema.safeParse(raw);
  if (!parsed.success) {
    const param = parsed.error.issues[0].path.join('.') || null;
    return sendJson(res, 400, openaiErrorBody(`Invalid value for '${param ?? 'body'}': ${parsed.error.issues[0].message}`, 'invalid_request_error', 'invalid_value', param));
  }
  const req = parsed.data;
  if (!state.settings.acceptAnyModel && state.models.find('openai', req.model)?.kind !== 'embedding') {
    return sendJson(res, 404, openaiErrorBody(`The model \`${req.model}\` does not exist or you do not have access to it.`, 'invalid_request_error', 'model_not_found', 'model'));
  }
  const fault = faultFor(ctx, 'openai', req.model);
  const base = { id: state.nextId('emb-'), provider: 'openai' as const, endpoint: 'embeddings' as const, model: req.model, stream: false };
  if ((await applyFault(ctx, fault, 'openai', { ...base, promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 })) === 'handled') return;
  await sleep(state.settings.latencyMs);
  const input = req.input;
  const items: string[] = typeof input === 'string' ? [input] : typeof input[0] === 'number' ? [(input as number[]).join(',')] : (input as Array<string | number[]>).map((x) => (typeof x === 'string' ? x : x.join(',')));
  const dims = req.dimensions ?? DEFAULT_DIMENSIONS[req.model] ?? 1536;
  const base64 = req.encoding_format === 'base64';
  const data = items.map((text, index) => {
    const v = embedVector(req.model, text, dims, state.settings.seed);
    return { object: 'embedding', index, embedding: base64 ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : Array.from(v) };
  });
  const promptTokens = countEmbeddingInputTokens(input);
  sendJson(res, 200, { object: 'list', data, model: req.model, usage: { prompt_tokens: promptTokens, total_tokens: promptTokens } }, { 'x-request-id': `req_${base.id}` });
  state.record({ ...base, status: 200, promptTokens, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0, aborted: false, fault: fault ? faultName(fault) : null });
}

/** The texts of a Gemini Content (`{parts:[{text}]}`), joined. */
function contentText(c: unknown): string {
  if (!isRecord(c) || !Array.isArray(c.parts)) return '';
  return c.parts.map((p) => (isRecord(p) && typeof p.text === 'string' ? p.text : '')).join('');
}

async function geminiEmbed(ctx: RouteContext, batch: boolean): Promise<void> {
  const { state, res } = ctx;
  const key = geminiKey(ctx);
  if (key === null) return;
  const body = geminiJsonBody(ctx);
  if (!body) return;
  const model = geminiModel(ctx, 'embedding', batch ? 'batchEmbedContents' : 'embedContent');
  if (model === null) return;
  const requests = batch ? (Array.isArray(body.requests) ? body.requests.filter(isRecord) : []) : [body];
  if (requests.length === 0 || requests.some((r) => !isRecord(r.content))) {
    return sendJson(res, 400, geminiErrorBody(400, batch ? '* BatchEmbedContentsRequest.requests: requests is not specified' : '* EmbedContentRequest.content: content is not specified'));
  }
  const fault = faultFor(ctx, 'gemini', model);
  const base = { id: state.nextId('gemb-'), provider: 'gemini' as const, endpoint: 'embeddings' as const, model, stream: false };
  if ((await applyFault(ctx, fault, 'gemini', { ...base, promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 })) === 'handled') return;
  await sleep(state.settings.latencyMs);
  let tokens = 0;
  const embeddings = requests.map((r) => {
    const text = contentText(r.content);
    tokens += countTokens(text);
    const dims = typeof r.outputDimensionality === 'number' ? r.outputDimensionality : DEFAULT_DIMENSIONS[model] ?? 3072;
    return { values: Array.from(embedVector(model, text, dims, state.settings.seed)) };
  });
  // As the real API: no token usage in the answer. The record still says what the text counts.
  sendJson(res, 200, batch ? { embeddings } : { embedding: embeddings[0] });
  state.record({ ...base, status: 200, promptTokens: tokens, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0, aborted: false, fault: fault ? faultName(fault) : null });
}

export const embeddingRoutes: Route[] = [
  { method: 'POST', path: /^\/openai\/v1\/embeddings$/, handler: openaiEmbeddings },
  { method: 'POST', path: /^\/gemini\/v1beta\/models\/([^/:]+):embedContent$/, handler: (ctx) => geminiEmbed(ctx, false) },
  { method: 'POST', path: /^\/gemini\/v1beta\/models\/([^/:]+):batchEmbedContents$/, handler: (ctx) => geminiEmbed(ctx, true) },
];
