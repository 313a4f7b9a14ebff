// Local, faithful OpenAI / DeepSeek / Gemini servers for tests, the demo and the benchmark: startSimulator() and its types.
import { simulatorRoutes } from './routes.js';
import { createSimState, listen } from './server.js';
import { simSettingsPatchSchema, type Simulator, type SimulatorOptions } from './types.js';

export type { Fault, FaultRule, SimProvider, SimRecord, Simulator, SimulatorOptions, SimSettingsPatch } from './types.js';
export { faultRuleSchema, faultRulesSchema, faultSchema, simSettingsPatchSchema } from './types.js';
export { planChat, type ChatPlan, type GenRequest } from './generate.js';
export { prepareOpenAIChat, completionBody, chunkEvents, usageOf, type PreparedChat } from './openai-chat.js';
export { thoughtSignature, SKIP_SIGNATURE } from './gemini-chat.js';
export { embedVector } from './embeddings.js';
export type { Route, RouteContext, SimState } from './server.js';

export async function startSimulator(opts: SimulatorOptions = {}): Promise<Simulator> {
  const state = createSimState(opts);
  const host = opts.host ?? '127.0.0.1';
  const running = await listen(simulatorRoutes, state, opts.port ?? 0, host);
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${running.port}`;
  return {
    url,
    port: running.port,
    baseUrls: { openai: `${url}/openai/v1`, deepseek: `${url}/deepseek`, gemini: `${url}/gemini` },
    records: () => state.records(),
    reset() {
      state.clearRecords();
      state.promptCache.clear();
    },
    setFaults: (rules) => state.faults.set(rules),
    clearFaults: () => state.faults.clear(),
    configure: (patch) => {
      Object.assign(state.settings, simSettingsPatchSchema.parse(patch));
    },
    close: () => running.close(),
  };
}
