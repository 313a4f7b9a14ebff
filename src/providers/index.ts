// Builds the enabled providers from config once: one shared upstream pool; a provider without a key is disabled.
import type { Config } from '../config/index.js';
import { createDeepSeekProvider } from './deepseek.js';
import { createGeminiProvider } from './gemini.js';
import { createUpstreamHttp, upstreamHttpOptionsFromConfig, type UpstreamHttp } from './http.js';
import { createOpenAIProvider, type OpenAIProvider } from './openai.js';
import type { Provider, ProviderName } from './types.js';

export interface Providers {
  providers: Map<ProviderName, Provider>;
  /** Disabled providers and why, e.g. "OPENAI_API_KEY is not set" (for 503 provider_not_configured). */
  missing: Map<ProviderName, string>;
  /** The OpenAI adapter with its Responses pass-through, when enabled. */
  openai: OpenAIProvider | null;
  http: UpstreamHttp;
  close(): Promise<void>;
}

export function createProviders(config: Pick<Config, 'env' | 'file'>): Providers {
  const { env, file } = config;
  const http = createUpstreamHttp(upstreamHttpOptionsFromConfig(file.upstream));
  const providers = new Map<ProviderName, Provider>();
  const missing = new Map<ProviderName, string>();
  const closers: Array<() => Promise<void>> = [];
  let openai: OpenAIProvider | null = null;

  if (env.OPENAI_API_KEY) {
    openai = createOpenAIProvider({ baseUrl: env.OPENAI_BASE_URL, apiKey: env.OPENAI_API_KEY, http });
    providers.set('openai', openai);
  } else missing.set('openai', 'OPENAI_API_KEY is not set');

  if (env.DEEPSEEK_API_KEY) {
    providers.set('deepseek', createDeepSeekProvider({ baseUrl: env.DEEPSEEK_BASE_URL, apiKey: env.DEEPSEEK_API_KEY, http }));
  } else missing.set('deepseek', 'DEEPSEEK_API_KEY is not set');

  if (env.GEMINI_API_KEY) {
    const gemini = createGeminiProvider({
      baseUrl: env.GEMINI_BASE_URL,
      apiKey: env.GEMINI_API_KEY,
      http,
      images: { fetch: file.upstream.fetch_images, maxBytes: file.upstream.image_max_bytes, timeoutMs: file.upstream.image_timeout_ms },
    });
    providers.set('gemini', gemini);
    closers.push(() => gemini.close());
  } else missing.set('gemini', 'GEMINI_API_KEY is not set');

  return {
    providers,
    missing,
    openai,
    http,
    async close() {
      await Promise.all(closers.map((c) => c()));
      await http.close();
    },
  };
}

export { UpstreamError, providerNames, type CallContext, type ChatStream, type Provider, type ProviderName } from './types.js';
export { createOpenAICompatibleProvider } from './openai-compatible.js';
export { createOpenAIProvider, hasResponsesRaw, type OpenAIProvider, type RawUpstreamResponse } from './openai.js';
export { createDeepSeekProvider } from './deepseek.js';
export { createGeminiProvider, type GeminiProvider } from './gemini.js';
export { createUpstreamHttp, type UpstreamHttp } from './http.js';
export { createSseDecoder, parseSse, sseBatches } from './sse.js';
