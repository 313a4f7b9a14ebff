// Runs the provider contract suite against the Gemini adapter and the simulated Gemini native API.
import { createGeminiProvider } from '../../src/providers/gemini.js';
import { providerContract } from './contract.case.js';

providerContract({
  provider: 'gemini',
  make: (sim, http, apiKey) =>
    createGeminiProvider({ baseUrl: sim.baseUrls.gemini, apiKey, http, images: { fetch: false, maxBytes: 1_000_000, timeoutMs: 2_000 } }),
  validKey: 'sim-gemini-key',
  models: { chat: 'gemini-2.5-flash', reasoning: 'gemini-2.5-flash', embedding: 'gemini-embedding-001' },
  reasoningContent: true,
  jsonSchema: true,
  vision: true,
});
