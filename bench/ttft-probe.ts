// Where streaming's added time to first token comes from: Tollgate against direct, one stream at a time and four at
// a time, same processes and settings as `npm run bench`'s stream phase. Usage: npx tsx bench/ttft-probe.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { streaming } from './load.js';
import { buildGateway } from '../test/support/process.js';
import { pinSelf } from './procs.js';
import { createBenchDatabase, startRedis } from './services.js';
import { simSettings, startSimulator, startTollgate } from './targets.js';

buildGateway();
const logDir = mkdtempSync(join(tmpdir(), 'tollgate-ttft-'));
const ctx = { logDir, cpus: pinSelf('0') ? '1' : undefined };
const sim = await startSimulator(ctx, 68);
const redis = await startRedis(logDir, ctx.cpus);
const db = await createBenchDatabase();
const tg = await startTollgate(ctx, { simOrigin: sim.base, databaseUrl: db.url, redisUrl: redis.url, dataDir: join(logDir, 'data') });
try {
  await simSettings(sim.base, { latencyMs: 0, ttftMs: 20, chunkDelayMs: 20 });
  for (const concurrency of [1, 4]) {
    for (let round = 0; round < 2; round++) {
      for (const t of [sim.target, tg.target]) {
        const r = await streaming(t, { streams: 16, concurrency, maxTokens: 68 });
        process.stdout.write(`concurrency ${concurrency} ${t.name.padEnd(8)} TTFT p50 ${(r.ttftP50Us / 1000).toFixed(3)} ms, gap p99 ${(r.gapP99Us / 1000).toFixed(3)} ms, ${r.errors} errors\n`);
      }
    }
  }
} finally {
  await Promise.allSettled([tg.proc.stop(), sim.proc.stop(), redis.server.stop(), db.drop()]);
  rmSync(logDir, { recursive: true, force: true });
}
