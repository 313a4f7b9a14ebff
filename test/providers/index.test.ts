// createProviders: a provider without a key is disabled with a reason; the enabled ones share one pool and close cleanly.
import { describe, expect, it } from 'vitest';
import { envSchema, fileConfigSchema } from '../../src/config/schema.js';
import { createProviders, hasResponsesRaw } from '../../src/providers/index.js';
import { startSimulator } from '../../src/simulator/index.js';
import { chatReq, ctxFor } from './contract.case.js';

describe('createProviders', () => {
  it('disables providers without keys and says which variable is missing', async () => {
    const p = createProviders({ env: envSchema.parse({ OPENAI_API_KEY: 'sk-x' }), file: fileConfigSchema.parse({}) });
    try {
      expect([...p.providers.keys()]).toEqual(['openai']);
      expect(Object.fromEntries(p.missing)).toEqual({ deepseek: 'DEEPSEEK_API_KEY is not set', gemini: 'GEMINI_API_KEY is not set' });
      expect(p.openai?.name).toBe('openai');
      expect(hasResponsesRaw(p.providers.get('openai'))).toBe(true);
      expect(hasResponsesRaw(p.providers.get('gemini'))).toBe(false);
    } finally {
      await p.close();
    }
  });

  it('builds all three against the simulator and they answer', async () => {
    const sim = await startSimulator({ seed: 3 });
    const env = envSchema.parse({
      OPENAI_API_KEY: 'sk-sim-openai',
      DEEPSEEK_API_KEY: 'sk-sim-deepseek',
      GEMINI_API_KEY: 'sim-gemini-key',
      OPENAI_BASE_URL: sim.baseUrls.openai,
      DEEPSEEK_BASE_URL: sim.baseUrls.deepseek,
      GEMINI_BASE_URL: sim.baseUrls.gemini,
    });
    const p = createProviders({ env, file: fileConfigSchema.parse({}) });
    try {
      expect(p.missing.size).toBe(0);
      const models = { openai: 'gpt-4o-mini', deepseek: 'deepseek-flash', gemini: 'gemini-2.5-flash' } as const;
      for (const [name, model] of Object.entries(models)) {
        const provider = p.providers.get(name as keyof typeof models);
        const c = await provider?.chat(chatReq(model), ctxFor(model));
        expect(c?.choices[0].finish_reason).toBe('stop');
      }
      expect(sim.records().map((r) => r.provider)).toEqual(['openai', 'deepseek', 'gemini']);
    } finally {
      await p.close();
      await sim.close();
    }
  });
});
