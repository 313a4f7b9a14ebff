// The Gemini adapter: OpenAI chat/embeddings translated to the native generateContent / batchEmbedContents API.
import type { ChatRequest, EmbeddingRequest, EmbeddingResponse } from '../api/openai.js';
import { GatewayError } from '../errors.js';
import { countEmbeddingInputTokens } from '../metering/tokens.js';
import { geminiErrorFromEvent, geminiErrorFromHttp } from './gemini-errors.js';
import { buildGeminiRequest, type BuiltGeminiRequest } from './gemini-request.js';
import { toChatCompletion } from './gemini-response.js';
import { translateGeminiStream } from './gemini-stream.js';
import type { GeminiBatchEmbedResponse, GeminiResponse } from './gemini-wire.js';
import type { UpstreamHttp, UpstreamResponse } from './http.js';
import { createImageFetcher, ImageFetchError, type ImageFetcher, type InlineImage } from './image-fetch.js';
import { joinUrl } from './openai-compatible.js';
import { sseBatches } from './sse.js';
import type { AbortLike, CallContext, Provider } from './types.js';
import { invalidResponse, tryParseJson } from './upstream-errors.js';

export interface GeminiProviderOptions {
  /** e.g. https://generativelanguage.googleapis.com (the adapter appends /v1beta/models/...). */
  baseUrl: string;
  apiKey: string;
  http: UpstreamHttp;
  images: {
    /** Fetch http(s) image URLs (public addresses only); off: such URLs are a 400. */
    fetch: boolean;
    maxBytes: number;
    timeoutMs: number;
    /** Tests only: let the fetcher reach a local server. */
    isAllowedAddress?: (ip: string) => boolean;
  };
}

export interface GeminiProvider extends Provider {
  close(): Promise<void>;
}

function modelPath(model: string): string {
  return encodeURIComponent(model.replace(/^models\//, ''));
}

/** Float32 little-endian bytes, base64: what the OpenAI SDK decodes for encoding_format "base64". */
export function floatsToBase64(values: number[]): string {
  const buf = Buffer.allocUnsafe(values.length * 4);
  values.forEach((v, i) => buf.writeFloatLE(v, i * 4));
  return buf.toString('base64');
}

export function createGeminiProvider(options: GeminiProviderOptions): GeminiProvider {
  const { apiKey, http } = options;
  let fetcher: ImageFetcher | null = null;

  async function resolveImageUrl(url: string, param: string, signal: AbortLike): Promise<InlineImage> {
    if (!/^https?:/i.test(url)) {
      throw new GatewayError('invalid_request', `${param}.url must be a data: URL or an http(s) URL`, { param });
    }
    if (!options.images.fetch) {
      throw new GatewayError(
        'unsupported_parameter',
        `Gemini needs image bytes: send ${param}.url as a data: URL (fetching image URLs is disabled on this gateway)`,
        { param },
      );
    }
    fetcher ??= createImageFetcher({ ...options.images });
    try {
      return await fetcher.fetch(url, signal);
    } catch (e) {
      if (e instanceof ImageFetchError) throw new GatewayError('invalid_request', `${param}.url: ${e.message}`, { param, cause: e });
      throw e;
    }
  }

  async function post(method: string, model: string, body: unknown, ctx: CallContext, stream: boolean): Promise<UpstreamResponse> {
    const suffix = stream ? `:${method}?alt=sse` : `:${method}`;
    const res = await http.request({
      provider: 'gemini',
      url: joinUrl(options.baseUrl, `/v1beta/models/${modelPath(model)}${suffix}`),
      headers: { 'x-goog-api-key': apiKey, 'content-type': 'application/json', accept: stream ? 'text/event-stream' : 'application/json' },
      body: JSON.stringify(body),
      signal: ctx.signal,
      abort: ctx.abort,
      wholeAnswerDeadline: !stream,
    });
    if (res.status >= 200 && res.status < 300) return res;
    const text = await res.text().catch(() => '');
    throw geminiErrorFromHttp(res.status, res.headers, text, apiKey);
  }

  function build(req: ChatRequest, ctx: CallContext): Promise<BuiltGeminiRequest> {
    return buildGeminiRequest(req, {
      model: ctx.upstreamModel,
      resolveImageUrl: (url, param) => resolveImageUrl(url, param, ctx.signal),
    });
  }

  async function readJson(res: UpstreamResponse): Promise<unknown> {
    const text = await res.text();
    const parsed = tryParseJson(text);
    if (parsed === undefined) throw invalidResponse('gemini', `not JSON (${text.slice(0, 120)})`);
    return parsed;
  }

  const provider: GeminiProvider = {
    name: 'gemini',
    async chat(req, ctx) {
      const built = await build(req, ctx);
      const res = await post('generateContent', ctx.upstreamModel, built.body, ctx, false);
      const parsed = await readJson(res);
      if (parsed && typeof parsed === 'object' && 'error' in parsed) throw geminiErrorFromEvent(parsed, apiKey);
      const completion = toChatCompletion(parsed as GeminiResponse, { model: ctx.upstreamModel, includeThoughts: built.includeThoughts });
      if (!completion) throw invalidResponse('gemini', 'no candidates and no block reason');
      return completion;
    },
    async chatStream(req, ctx) {
      const built = await build(req, ctx);
      const res = await post('streamGenerateContent', ctx.upstreamModel, built.body, ctx, true);
      return (async function* () {
        try {
          yield* translateGeminiStream(sseBatches(res.body), {
            model: ctx.upstreamModel,
            includeThoughts: built.includeThoughts,
            errorFromEvent: (event) => geminiErrorFromEvent(event, apiKey),
          });
        } finally {
          res.dispose();
        }
      })();
    },
    embed: (req, ctx) => embed(req, ctx),
    async close() {
      await fetcher?.close();
    },
  };

  async function embed(req: EmbeddingRequest, ctx: CallContext) {
    const inputs = typeof req.input === 'string' ? [req.input] : req.input;
    if (!inputs.every((x): x is string => typeof x === 'string')) {
      throw new GatewayError('unsupported_parameter', 'Gemini embeddings take text input, not token arrays', { param: 'input' });
    }
    const model = `models/${ctx.upstreamModel.replace(/^models\//, '')}`;
    const body = {
      requests: inputs.map((text) => ({
        model,
        content: { parts: [{ text }] },
        ...(req.dimensions ? { outputDimensionality: req.dimensions } : {}),
      })),
    };
    const parsed = (await readJson(await post('batchEmbedContents', ctx.upstreamModel, body, ctx, false))) as GeminiBatchEmbedResponse;
    const embeddings = parsed.embeddings;
    if (!Array.isArray(embeddings) || embeddings.length !== inputs.length) {
      throw invalidResponse('gemini', `expected ${inputs.length} embeddings, got ${Array.isArray(embeddings) ? embeddings.length : 'none'}`);
    }
    const base64 = req.encoding_format === 'base64';
    const tokens = countEmbeddingInputTokens(req.input);
    const response: EmbeddingResponse = {
      object: 'list',
      data: embeddings.map((e, index) => ({
        object: 'embedding' as const,
        index,
        embedding: base64 ? floatsToBase64(e.values ?? []) : (e.values ?? []),
      })),
      model: ctx.upstreamModel,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    };
    // Gemini reports no token usage for embeddings: counted here with the tokenizer, and marked as an estimate.
    return { response, usageSource: 'estimated' as const };
  }

  return provider;
}
