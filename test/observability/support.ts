// Test helpers of the observability suites: ledger events from a seeded PRNG, and a small exposition-format parser.
import type { LedgerEvent } from '../../src/metering/ledger-event.js';
import type { ProviderName } from '../../src/providers/types.js';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition (no escapes beyond \\ \" \n in label values, which is all prom-client writes). */
export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) throw new Error(`unparseable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    for (let l = re.exec(m[2] ?? ''); l; l = re.exec(m[2] ?? '')) {
      labels[l[1]] = l[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

export function sumOf(samples: Sample[], name: string, where: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

/** Mulberry32: deterministic, so a failure replays identically. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const models: Array<[ProviderName, string]> = [
  ['openai', 'gpt-4o-mini'],
  ['openai', 'gpt-4.1'],
  ['deepseek', 'deepseek-flash'],
  ['deepseek', 'deepseek-v4-pro'],
  ['gemini', 'gemini-2.5-flash'],
];

export function randomEvent(rand: () => number, i: number, tenantId: string): LedgerEvent {
  const [provider, model] = models[Math.floor(rand() * models.length)];
  const int = (n: number) => Math.floor(rand() * n);
  const inputTokens = int(50_000);
  const cachedInputTokens = int(inputTokens + 1);
  const outputTokens = int(8_000);
  const reasoningTokens = int(outputTokens + 1);
  const costPico = BigInt(int(2 ** 31)) * BigInt(1 + int(5000));
  // Mostly a dearer baseline (routing saved money); sometimes a cheaper one (routed up: negative routing savings).
  const baselineCostPico = rand() < 0.15 ? costPico / 2n : costPico + BigInt(int(2 ** 31)) * BigInt(int(3000));
  const ok = rand() < 0.9;
  return {
    requestId: `req_${i}`,
    tenantId,
    keyId: null,
    endpoint: 'chat',
    route: rand() < 0.7 ? 'auto' : null,
    provider,
    model,
    stream: rand() < 0.5,
    inputTokens,
    cachedInputTokens,
    outputTokens,
    reasoningTokens,
    usageSource: 'reported',
    costPico,
    baselineCostPico,
    savedResponseCachePico: rand() < 0.1 ? BigInt(int(10_000_000)) : 0n,
    savedPromptCachePico: BigInt(int(1_000_000)),
    savedOffPeakPico: provider === 'deepseek' ? BigInt(int(5_000_000)) : 0n,
    priceVersion: `${model}@2025-07-01T00:00:00.000Z`,
    status: ok ? 200 : [429, 500, 502][int(3)],
    outcome: ok ? 'ok' : 'error',
    errorCode: ok ? null : 'upstream_error',
    cacheHit: false,
    attempts: [],
    latencyMs: 20 + int(20_000),
    ttftMs: rand() < 0.5 ? 10 + int(2000) : null,
    startedAt: new Date(Date.UTC(2026, 10, 1) + i * 60_000),
  };
}
