// Runs the provider contract suite against the DeepSeek adapter and the simulated DeepSeek API.
import { createDeepSeekProvider } from '../../src/providers/deepseek.js';
import { providerContract } from './contract.case.js';

providerContract({
  provider: 'deepseek',
  make: (sim, http, apiKey) => createDeepSeekProvider({ baseUrl: sim.baseUrls.deepseek, apiKey, http }),
  validKey: 'sk-sim-deepseek',
  models: { chat: 'deepseek-flash', reasoning: 'deepseek-flash', embedding: null },
  reasoningContent: true,
  jsonSchema: false,
  vision: false,
});
