// Per-step CPU cost of pieces of the Tollgate request path, in-process (`npx tsx bench/micro.ts`): µs of CPU per call,
// measured with process.cpuUsage so a busy machine inflates them less than wall-clock timings.
import { openSync } from 'node:fs';
import pino from 'pino';
import { chatRequestSchema } from '../src/api/openai.js';
import { countPromptTokens } from '../src/metering/tokens.js';
import { chatBody, type Target } from './load.js';

const target: Target = { name: 'tollgate', origin: '', path: '', headers: {}, model: 'bench' };
const body = chatBody(target, false, 32);

function cpuUsPerCall(name: string, n: number, fn: () => unknown): void {
  for (let i = 0; i < Math.min(n, 2000); i++) fn(); // warm up (JIT)
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) fn();
  const c = process.cpuUsage(c0);
  process.stdout.write(`${name.padEnd(58)} ${((c.user + c.system) / n).toFixed(2).padStart(8)} µs\n`);
}

const parsed = chatRequestSchema.parse(JSON.parse(body));
const devnull = openSync('/dev/null', 'w');
const logger = pino(
  { level: 'info', base: undefined, redact: { paths: ['authorization', 'headers.authorization', '*.apiKey', 'apiKey', 'key.secret', 'secret'], censor: '[redacted]' } },
  pino.destination({ dest: devnull, sync: true, minLength: 0 }),
);
const line = { requestId: 'req_0123456789abcdef', tenant: 'ten_x', key: 'key_y', endpoint: 'chat', route: 'bench', provider: 'openai', model: 'gpt-4o-mini', status: 200, outcome: 'ok', stream: false, tokens: { input: 29, cached: 0, output: 32, reasoning: 0 }, usage: 'reported', costPico: '23550000', attempts: 1, latencyMs: 3, ttftMs: 3 };

process.stdout.write(`bench request body: ${body.length} bytes\n`);
cpuUsPerCall('JSON.parse(body)', 50_000, () => JSON.parse(body));
cpuUsPerCall('chatRequestSchema.parse (zod) of the parsed body', 50_000, () => chatRequestSchema.parse(JSON.parse(body)));
cpuUsPerCall('countPromptTokens (gpt-tokenizer o200k)', 50_000, () => countPromptTokens(parsed));
cpuUsPerCall('JSON.stringify(request) for the upstream', 50_000, () => JSON.stringify(parsed));
cpuUsPerCall('pino access-log line (sync to /dev/null, with redact)', 50_000, () => logger.info(line, 'request'));
cpuUsPerCall('new AbortController + listener + setTimeout/clearTimeout', 50_000, () => {
  const ac = new AbortController();
  const t = setTimeout(() => ac.abort(), 600_000);
  ac.signal.addEventListener('abort', () => clearTimeout(t), { once: true });
  clearTimeout(t);
});
