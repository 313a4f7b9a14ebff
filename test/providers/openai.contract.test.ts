// Runs the provider contract suite against the OpenAI adapter and the simulated OpenAI API.
import { createOpenAIProvider } from '../../src/providers/openai.js';
import { providerContract } from './contract.case.js';

providerContract({
  provider: 'openai',
  make: (sim, http, apiKey) => createOpenAIProvider({ baseUrl: sim.baseUrls.openai, apiKey, http }),
  validKey: 'sk-sim-openai',
  models: { chat: 'gpt-4o-mini', reasoning: 'gpt-5-mini', embedding: 'text-embedding-3-small' },
  reasoningContent: false,
  jsonSchema: true,
  vision: true,
});
