// CLI: `npm run simulator -- [--port N] [--host H] [--latency MS] [--ttft MS] [--chunk-delay MS] [--tokens N] [--seed N]`.
import { parseArgs } from 'node:util';
import { startSimulator } from './index.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '4010' },
    host: { type: 'string', default: '127.0.0.1' },
    latency: { type: 'string', default: '0' },
    ttft: { type: 'string', default: '0' },
    'chunk-delay': { type: 'string', default: '0' },
    tokens: { type: 'string', default: '40' },
    seed: { type: 'string', default: '0' },
    catalog: { type: 'string' },
    'any-model': { type: 'boolean', default: false },
  },
});

function int(name: string, v: string | undefined): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} must be a non-negative integer, got ${v}`);
    process.exit(2);
  }
  return n;
}

const sim = await startSimulator({
  port: int('port', values.port),
  host: values.host,
  latencyMs: int('latency', values.latency),
  ttftMs: int('ttft', values.ttft),
  chunkDelayMs: int('chunk-delay', values['chunk-delay']),
  defaultOutputTokens: int('tokens', values.tokens),
  seed: int('seed', values.seed),
  catalogPath: values.catalog,
  acceptAnyModel: values['any-model'],
});

console.log(`Tollgate provider simulator on ${sim.url}`);
console.log(`  OPENAI_BASE_URL=${sim.baseUrls.openai}    OPENAI_API_KEY=sk-sim-openai`);
console.log(`  DEEPSEEK_BASE_URL=${sim.baseUrls.deepseek}    DEEPSEEK_API_KEY=sk-sim-deepseek`);
console.log(`  GEMINI_BASE_URL=${sim.baseUrls.gemini}    GEMINI_API_KEY=sim-gemini-key`);
console.log(`  control: GET|DELETE ${sim.url}/__sim/records, PUT|DELETE ${sim.url}/__sim/faults`);

const stop = () => {
  void sim.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
