// Soak (issue 9 item 4; not for CI): mixed traffic through a gateway process (Redis + Postgres) for N minutes while
// faults are injected at random into the simulated providers (and Postgres is cut now and then); RSS sampled; at the
// end every request the client sent is matched against the ledger by request id.
// Usage: npx tsx bench/soak.ts [--minutes=10] [--concurrency=16]
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { createTenant, rssKiB, serverPid, startStack } from '../test/faults/support.js';
import type { FaultRule } from '../src/simulator/index.js';

const { values: args } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, concurrency: { type: 'string', default: '16' }, out: { type: 'string' } } });
const minutes = Number(args.minutes);
const concurrency = Number(args.concurrency);
const log = (s: string) => process.stdout.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

const stack = await startStack({ latencyMs: 2, ttftMs: 5, chunkDelayMs: 1 });
const gw = await stack.gateway({ direct: true, config: { ledger: { batch_size: 500, flush_interval_ms: 250, max_queue: 20_000 } } });
const { key, tenantId } = await createTenant(gw, 'soak', { routes: { auto: { strategy: 'cheapest', max_attempts: 3 } } });
const pid = serverPid(gw);
const bodies = [
  { model: 'auto', max_tokens: 40, messages: [{ role: 'user', content: 'route me' }] },
  { model: 'gpt-4o-mini', stream: true, stream_options: { include_usage: true }, max_tokens: 60, messages: [{ role: 'user', content: 'stream' }] },
  { model: 'deepseek-flash', max_tokens: 40, messages: [{ role: 'user', content: 'think' }] },
  { model: 'gemini-2.5-flash-lite', stream: true, max_tokens: 60, messages: [{ role: 'user', content: 'gemini stream' }] },
  { model: 'auto', stream: true, max_tokens: 80, messages: [{ role: 'system', content: 'long shared prefix. '.repeat(300) }, { role: 'user', content: 'cached' }] },
];
const faults: FaultRule['fault'][] = [
  { type: 'status', status: 500 },
  { type: 'status', status: 503 },
  { type: 'status', status: 429, retryAfterS: 1 },
  { type: 'reset' },
  { type: 'cut', afterChunks: 3 },
  { type: 'error_event', afterChunks: 2 },
  { type: 'delay', ms: 200 },
];
const providers = ['openai', 'deepseek', 'gemini'] as const;

const sent = new Map<string, number>(); // request id → HTTP status seen by the client
const statuses = new Map<number, number>();
let failedToConnect = 0;
const rss: number[] = [];
const until = Date.now() + minutes * 60_000;
let pgCuts = 0;
let faultChanges = 0;

async function client(): Promise<void> {
  let i = 0;
  while (Date.now() < until) {
    const body = bodies[i++ % bodies.length];
    try {
      const res = await fetch(`${gw.baseURL}/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      await res.text();
      const id = res.headers.get('x-request-id');
      if (id) sent.set(id, res.status);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    } catch {
      failedToConnect++;
    }
  }
}

const chaos = (async () => {
  while (Date.now() < until) {
    const n = Math.floor(Math.random() * 3);
    const rules: FaultRule[] = Array.from({ length: n }, () => ({
      provider: providers[Math.floor(Math.random() * providers.length)],
      fault: faults[Math.floor(Math.random() * faults.length)],
      times: 1 + Math.floor(Math.random() * 20),
    }));
    stack.sim.setFaults(rules);
    faultChanges++;
    if (Math.random() < 0.08) {
      pgCuts++;
      await stack.cutDatabase();
      await new Promise((r) => setTimeout(r, 3_000 + Math.random() * 5_000));
      await stack.restoreDatabase();
    }
    await new Promise((r) => setTimeout(r, 2_000 + Math.random() * 3_000));
  }
  stack.sim.clearFaults();
})();
const sampler = setInterval(() => rss.push(rssKiB(pid) / 1024), 10_000);
log(`${minutes} min, ${concurrency} clients, gateway pid ${pid}`);
await Promise.all([chaos, ...Array.from({ length: concurrency }, client)]);
clearInterval(sampler);
await stack.restoreDatabase();

// Wait for the ledger (spool replay included) to hold every request.
let rows: Array<{ request_id: string }> = [];
for (let t = 0; t < 120; t++) {
  rows = await stack.sql<{ request_id: string }[]>`select request_id from usage_ledger where tenant_id = ${tenantId}`;
  if ([...sent.keys()].every((id) => rows.some((r) => r.request_id === id)) || rows.length >= sent.size) break;
  await new Promise((r) => setTimeout(r, 1_000));
}
const ledgerIds = new Set(rows.map((r) => r.request_id));
// Requests refused before admission (401/429 from a limit) get no ledger row by design; everything admitted does.
const admitted = [...sent].filter(([, s]) => s !== 401);
const missing = admitted.filter(([id]) => !ledgerIds.has(id));
const dupes = rows.length - ledgerIds.size;
const summary = {
  minutes,
  concurrency,
  requestsSent: sent.size,
  connectFailures: failedToConnect,
  statuses: Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])),
  faultChanges,
  postgresCuts: pgCuts,
  ledgerRows: rows.length,
  missingFromLedger: missing.length,
  duplicateLedgerRows: dupes,
  rssMB: { first: rss[0], max: Math.max(...rss), last: rss[rss.length - 1], samples: rss.length },
};
log(JSON.stringify(summary, null, 2));
if (args.out) writeFileSync(args.out, JSON.stringify(summary, null, 2));
await stack.close();
process.exit(missing.length === 0 && dupes === 0 ? 0 : 1);
