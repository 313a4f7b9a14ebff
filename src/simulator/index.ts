// Local, faithful OpenAI / DeepSeek / Gemini servers for tests, the demo and the benchmark: startSimulator() and its types.
//
// Paths: /openai/v1/{chat/completions,embeddings,models,responses}, /deepseek[/v1]/{chat/completions,models},
// /gemini/v1beta/models[/{model}:{generateContent,streamGenerateContent,embedContent,batchEmbedContents}].
// Keys: sk-sim-openai, sk-sim-deepseek, sim-gemini-key (Gemini: x-goog-api-key header or ?key=).
// Markers in the last user message: [[sim:block]] (safety block / content_filter), [[sim:parallel]] (two tool calls),
// [[sim:finish=X]] (Gemini finishReason X), [[sim:fault=SPEC]]; the same SPEC in an `x-sim-fault` header, where SPEC is
// status:CODE[:RETRY_AFTER_S] | reset | hang | delay:MS | cut:N | error_event:N | auth. Rules (setFaults) win over both.
// Control API: GET|DELETE /__sim/records, PUT|DELETE /__sim/faults, PUT /__sim/settings {latencyMs,ttftMs,chunkDelayMs,defaultOutputTokens}.
// Usage: OpenAI/DeepSeek prompt = countPromptTokens(body); completion = Σ countTokens(piece) over emitted pieces (+ reasoning);
// Gemini prompt = Σ countTokens(text parts of systemInstruction, tools JSON, contents; function parts as JSON) + 258 per image.
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
