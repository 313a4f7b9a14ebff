// The real config/models.yaml for example tests, plus its raw price strings for costs computed independently of the code.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { catalogSchema } from '../../src/config/catalog.js';
import { buildCatalog, type Catalog } from '../../src/routing/catalog.js';
import { policySchema, type Policy, type PolicyInput } from '../../src/routing/policy.js';

const text = readFileSync(fileURLToPath(new URL('../../config/models.yaml', import.meta.url)), 'utf8');

export const realCatalog: Catalog = buildCatalog(catalogSchema.parse(parse(text)));

interface RawPrice {
  input: string;
  cached_input?: string;
  output?: string;
  effective_from: string | Date;
  tariffs?: Array<{ name: string; input: string; cached_input?: string; output: string; weekdays?: number[]; windows: Array<{ from: string; to: string }> }>;
}
interface RawModel {
  id: string;
  kind?: string;
  quality?: { score: number };
  shutdown?: string | Date;
  prices: RawPrice[];
}

export const rawModels: RawModel[] = (parse(text) as { models: RawModel[] }).models;

export function policy(p: PolicyInput): Policy {
  return policySchema.parse(p);
}

/** "0.15" USD per 1M tokens → 150000 pico-USD per token, by string arithmetic (not the money module). */
export function picoPerToken(usdPerMillion: string): bigint {
  const [whole, frac = ''] = usdPerMillion.split('.');
  return BigInt(whole) * 1_000_000n + BigInt(frac.padEnd(6, '0').slice(0, 6));
}

export function usdString(pico: bigint): string {
  const s = pico.toString().padStart(13, '0');
  return `${s.slice(0, -12)}.${s.slice(-12)}`;
}

/** Independent price lookup in the raw YAML: latest row in force, then a matching time-of-day tariff. */
export function rawPrices(id: string, at: Date): { input: bigint; cached: bigint; output: bigint; tariff: string | null } {
  const m = rawModels.find((x) => x.id === id);
  if (!m) throw new Error(`no ${id} in models.yaml`);
  const rows = m.prices.filter((r) => new Date(r.effective_from).getTime() <= at.getTime());
  const row = rows.sort((a, b) => new Date(b.effective_from).getTime() - new Date(a.effective_from).getTime())[0];
  const hhmm = at.toISOString().slice(11, 16);
  const day = at.getUTCDay() === 0 ? 7 : at.getUTCDay();
  const t = (row.tariffs ?? []).find(
    (x) => (!x.weekdays || x.weekdays.includes(day)) && x.windows.some((w) => (w.from <= w.to ? hhmm >= w.from && hhmm < w.to : hhmm >= w.from || hhmm < w.to)),
  );
  const p = t ?? row;
  const input = picoPerToken(p.input);
  return { input, cached: p.cached_input ? picoPerToken(p.cached_input) : input, output: picoPerToken(p.output ?? '0'), tariff: t?.name ?? null };
}

export function isLiveChat(id: string, at: Date): boolean {
  const m = rawModels.find((x) => x.id === id);
  return !!m && (m.kind ?? 'chat') === 'chat' && (!m.shutdown || new Date(m.shutdown).getTime() > at.getTime());
}
