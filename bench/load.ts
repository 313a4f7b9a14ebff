// Load generators of the benchmark: throughput (autocannon), 1-connection latency and streaming timing (undici, µs clock).
import { createRequire } from 'node:module';
import { Client } from 'undici';

/** One thing under test: where its chat completions endpoint is and what it needs in the headers. */
export interface Target {
  name: string;
  /** Origin, e.g. http://127.0.0.1:1234 */
  origin: string;
  path: string;
  headers: Record<string, string>;
  model: string;
}

export function chatBody(t: Target, stream: boolean, maxTokens: number): string {
  return JSON.stringify({
    model: t.model,
    max_tokens: maxTokens,
    stream,
    ...(stream ? { stream_options: { include_usage: true } } : {}),
    messages: [
      { role: 'system', content: 'You are the support assistant of a bicycle shop.' },
      { role: 'user', content: 'Which tyre pressure for a 28 inch wheel?' },
    ],
  });
}

interface AcOptions {
  url: string;
  method: 'POST';
  headers: Record<string, string>;
  body: string;
  connections: number;
  duration?: number;
  amount?: number;
  overallRate?: number;
  timeout?: number;
}
interface AcResult {
  '2xx': number;
  non2xx: number;
  errors: number;
  timeouts: number;
  duration: number;
  requests: { total: number; average: number };
}
type Autocannon = (opts: AcOptions) => Promise<AcResult>;
// autocannon ships no types: type the one call we make.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

export interface ThroughputResult {
  rps: number;
  ok: number;
  errors: number;
}

/** Requests per second at `connections` keep-alive connections (2xx only), with errors and non-2xx counted apart. */
export async function throughput(t: Target, o: { connections: number; durationS?: number; amount?: number; overallRate?: number; maxTokens: number }): Promise<ThroughputResult> {
  const r = await autocannon({
    url: `${t.origin}${t.path}`,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...t.headers },
    body: chatBody(t, false, o.maxTokens),
    connections: o.connections,
    // autocannon refuses an explicit `duration: undefined` (the --soak run by request count).
    ...(o.durationS !== undefined ? { duration: o.durationS } : {}),
    ...(o.amount !== undefined ? { amount: o.amount } : {}),
    ...(o.overallRate !== undefined ? { overallRate: o.overallRate } : {}),
    timeout: 30,
  });
  return { rps: r['2xx'] / r.duration, ok: r['2xx'], errors: r.non2xx + r.errors + r.timeouts };
}

/** Exact percentile of sorted samples (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export interface LatencyResult {
  p50Us: number;
  p99Us: number;
  n: number;
  errors: number;
  /** Every request sent, the warm-up included (what the servers' CPU over the call was spent on). */
  sent: number;
}

/** Sequential requests on one keep-alive connection for `durationMs`; every latency kept (µs), exact percentiles. */
export async function latency1(t: Target, o: { durationMs: number; maxTokens: number; warmup?: number }): Promise<LatencyResult> {
  const client = new Client(t.origin, { keepAliveTimeout: 60_000, pipelining: 1 });
  const body = chatBody(t, false, o.maxTokens);
  const headers = { 'content-type': 'application/json', ...t.headers };
  const samples: number[] = [];
  let errors = 0;
  const warmup = o.warmup ?? 20;
  try {
    for (let i = 0; i < warmup; i++) await (await client.request({ path: t.path, method: 'POST', headers, body })).body.dump();
    const end = performance.now() + o.durationMs;
    while (performance.now() < end) {
      const t0 = process.hrtime.bigint();
      const res = await client.request({ path: t.path, method: 'POST', headers, body });
      await res.body.text();
      const us = Number(process.hrtime.bigint() - t0) / 1000;
      if (res.statusCode === 200) samples.push(us);
      else errors++;
    }
  } finally {
    await client.close();
  }
  samples.sort((a, b) => a - b);
  return { p50Us: percentile(samples, 50), p99Us: percentile(samples, 99), n: samples.length, errors, sent: warmup + samples.length + errors };
}

export interface StreamResult {
  ttftP50Us: number;
  gapP99Us: number;
  chunksPerStream: number;
  streams: number;
  errors: number;
  /** The first failure seen (status and the start of the body), for the notes. */
  firstError?: string;
}

const firstContent = /"content":"[^"]/;

/** One stream: arrival time of each SSE data event; TTFT is the first event carrying non-empty content. */
async function oneStream(client: Client, t: Target, body: string, headers: Record<string, string>): Promise<{ ttftUs: number; gapsUs: number[]; events: number } | string> {
  const t0 = process.hrtime.bigint();
  const res = await client.request({ path: t.path, method: 'POST', headers, body });
  if (res.statusCode !== 200) return `${res.statusCode} ${(await res.body.text()).slice(0, 160)}`;
  let buf = '';
  let ttftUs = Number.NaN;
  let last = -1;
  const gapsUs: number[] = [];
  let events = 0;
  for await (const piece of res.body) {
    const now = Number(process.hrtime.bigint() - t0) / 1000;
    buf += typeof piece === 'string' ? piece : (piece as Buffer).toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const ev = buf.slice(0, i);
      buf = buf.slice(i + 2);
      if (!ev.startsWith('data:') || ev.startsWith('data: [DONE]')) continue;
      events++;
      if (Number.isNaN(ttftUs) && firstContent.test(ev)) ttftUs = now;
      if (last >= 0) gapsUs.push(now - last);
      last = now;
    }
  }
  return { ttftUs, gapsUs, events };
}

/** `streams` streams over `concurrency` connections; TTFT median and inter-event gap p99 in µs. */
export async function streaming(t: Target, o: { streams: number; concurrency: number; maxTokens: number }): Promise<StreamResult> {
  const body = chatBody(t, true, o.maxTokens);
  const headers = { 'content-type': 'application/json', ...t.headers };
  const ttfts: number[] = [];
  const gaps: number[] = [];
  let errors = 0;
  let events = 0;
  let firstError: string | undefined;
  let left = o.streams;
  const worker = async () => {
    const client = new Client(t.origin, { keepAliveTimeout: 60_000 });
    try {
      await oneStream(client, t, body, headers); // warm the connection
      while (left > 0) {
        left--;
        const r = await oneStream(client, t, body, headers);
        if (typeof r === 'string' || Number.isNaN(r.ttftUs)) {
          errors++;
          firstError ??= typeof r === 'string' ? r : 'no event with content';
          continue;
        }
        ttfts.push(r.ttftUs);
        gaps.push(...r.gapsUs);
        events += r.events;
      }
    } finally {
      await client.close();
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  ttfts.sort((a, b) => a - b);
  gaps.sort((a, b) => a - b);
  return { ttftP50Us: percentile(ttfts, 50), gapP99Us: percentile(gaps, 99), chunksPerStream: ttfts.length ? events / ttfts.length : Number.NaN, streams: ttfts.length, errors, firstError };
}
