// Soak (issue 9 item 4; not for CI): mixed traffic through a gateway process (Redis + Postgres) for N minutes while
// faults are injected at random into the simulated providers (and Postgres is cut now and then); RSS sampled; at the
// end every request the client sent is matched against the ledger by request id, and the whole is reconciled:
// requests sent = ledger rows + tollgate_refused_requests_total (the refusals before admission, which have no row).
// Usage: npx tsx bench/soak.ts [--minutes=10] [--concurrency=16]
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { createTenant, rssKiB, serverPid, startStack } from '../test/faults/support.js';
import { parseExposition, sumOf, type Sample } from '../test/observability/support.js';
import type { FaultRule } from '../src/simulator/index.js';
import { buildGateway } from '../test/support/process.js';

const { values: args } = parseArgs({ options: { minutes: { type: 'string', default: '10' }, concurrency: { type: 'string', default: '16' }, out: { type: 'string' } } });
const minutes = Number(args.minutes);
const concurrency = Number(args.concurrency);
const log = (s: string) => process.stdout.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

// The gateway process runs build/main.js, as `npm start` does: build it from the current src/ first.
buildGateway();
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
// Every 10 s: RSS, and the V8 heap in use and the ledger queue from /metrics (a leak grows the heap in use; the
// queue holds events in memory while Postgres is cut, up to ledger.max_queue, then spools them to disk).
const scrape = async (): Promise<Sample[]> => parseExposition(await (await fetch(`${gw.url}/metrics`)).text());
const heap: number[] = [];
const queued: number[] = [];
const sampler = setInterval(() => {
  rss.push(rssKiB(pid) / 1024);
  scrape()
    .then((samples) => {
      heap.push(sumOf(samples, 'tollgate_nodejs_heap_size_used_bytes') / 1e6);
      queued.push(sumOf(samples, 'tollgate_ledger_queue_events'));
    })
    .catch(() => {});
}, 10_000);
log(`${minutes} min, ${concurrency} clients, gateway pid ${pid}`);
await Promise.all([chaos, ...Array.from({ length: concurrency }, client)]);
clearInterval(sampler);
await stack.restoreDatabase();

// Wait for the ledger (spool replay included) to hold everything the gateway metered: its row count reaches
// tollgate_requests_total and nothing is left queued or spooled. One count per second, then one read of the ids.
let samples: Sample[] = [];
let rowCount = 0;
for (let t = 0; t < 120; t++) {
  samples = await scrape();
  [{ n: rowCount }] = await stack.sql<{ n: number }[]>`select count(*)::int as n from usage_ledger where tenant_id = ${tenantId}`;
  const pending = sumOf(samples, 'tollgate_ledger_queue_events') + sumOf(samples, 'tollgate_ledger_spooled_events');
  if (pending === 0 && rowCount >= sumOf(samples, 'tollgate_requests_total')) break;
  await new Promise((r) => setTimeout(r, 1_000));
}
const rows = await stack.sql<{ request_id: string }[]>`select request_id from usage_ledger where tenant_id = ${tenantId}`;
const ledgerIds = new Set(rows.map((r) => r.request_id));
const dupes = rows.length - ledgerIds.size;

// Request by request, in one pass: a request with a row was metered; one without must have been answered an error
// (refused before admission). A success without a row is a lost ledger event.
const notInLedger = new Map<number, number>(); // client status → requests without a ledger row
const missing: Array<[string, number]> = [];
let matched = 0;
for (const [id, status] of sent) {
  if (ledgerIds.has(id)) matched++;
  else if (status >= 400) notInLedger.set(status, (notInLedger.get(status) ?? 0) + 1);
  else missing.push([id, status]);
}
const rowsNotSeenByClient = ledgerIds.size - matched; // metered, but the client lost the answer (connection failures)

// The gateway's own count of what it refused, by status and code (all tenants: only the soak tenant sends /v1 traffic).
const refused = samples.filter((x) => x.name === 'tollgate_refused_requests_total' && x.value > 0);
const refusedTotal = refused.reduce((a, x) => a + x.value, 0);
const refusals: Record<string, number> = {};
for (const x of refused) refusals[`${x.labels.status} ${x.labels.code}`] = (refusals[`${x.labels.status} ${x.labels.code}`] ?? 0) + x.value;
const refusedByStatus = new Map<number, number>();
for (const x of refused) refusedByStatus.set(Number(x.labels.status), (refusedByStatus.get(Number(x.labels.status)) ?? 0) + x.value);
// Every status the client saw without a row is the gateway's refusal count for that status, exactly (when every answer
// reached the client; a connection failure may hide one answer from the client).
const statusMismatches = [...new Set([...notInLedger.keys(), ...refusedByStatus.keys()])]
  .filter((st) => (notInLedger.get(st) ?? 0) !== (refusedByStatus.get(st) ?? 0))
  .map((st) => ({ status: st, client: notInLedger.get(st) ?? 0, gateway: refusedByStatus.get(st) ?? 0 }));
const reconciled = sent.size === rows.length + refusedTotal;

const summary = {
  minutes,
  concurrency,
  requestsSent: sent.size,
  connectFailures: failedToConnect,
  statuses: Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])),
  faultChanges,
  postgresCuts: pgCuts,
  ledgerRows: rows.length,
  meteredRequestsTotal: sumOf(samples, 'tollgate_requests_total'),
  refusedRequestsTotal: refusedTotal,
  reconciliation: `${sent.size} sent ${reconciled ? '=' : '≠'} ${rows.length} ledger rows + ${refusedTotal} refused`,
  refusals: Object.fromEntries(Object.entries(refusals).sort()),
  missingFromLedger: missing.length,
  duplicateLedgerRows: dupes,
  ledgerRowsNotSeenByClient: rowsNotSeenByClient,
  refusedStatusMismatches: statusMismatches,
  rssMB: { first: rss[0], max: Math.max(...rss), last: rss[rss.length - 1], samples: rss.length },
  // One reading a minute (every sixth 10-second sample).
  rssPerMinuteMB: rss.filter((_, i) => i % 6 === 5).map((x) => Math.round(x)),
  heapUsedPerMinuteMB: heap.filter((_, i) => i % 6 === 5).map((x) => Math.round(x)),
  ledgerQueuePerMinute: queued.filter((_, i) => i % 6 === 5),
  heapUsedMB: { min: Math.round(Math.min(...heap)), max: Math.round(Math.max(...heap)), last: Math.round(heap[heap.length - 1]) },
};
log(JSON.stringify(summary, null, 2));
if (args.out) writeFileSync(args.out, JSON.stringify(summary, null, 2));
await stack.close();
// Connection failures are requests whose answer the client never saw: then only the per-request checks are exact.
const accounted = failedToConnect === 0 ? reconciled && statusMismatches.length === 0 : sent.size <= rows.length + refusedTotal;
process.exit(missing.length === 0 && dupes === 0 && accounted ? 0 : 1);
