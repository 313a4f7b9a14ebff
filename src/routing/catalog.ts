// The model catalog at run time: name resolution and the price in force for a model at an instant.
import type { CatalogFile, CatalogModel, PriceEntry } from '../config/catalog.js';
import { perMillionToPicoPerToken } from '../metering/money.js';

/** Pico-USD per token, at one instant, for one prompt size. */
export interface UnitPrices {
  input: bigint;
  cachedInput: bigint;
  output: bigint;
  /** Identifies the price row and tariff used, e.g. `deepseek-flash@2026-09-10T00:00:00.000Z#peak`. */
  version: string;
  tariff: string | null;
}

export interface Catalog {
  readonly models: readonly CatalogModel[];
  /** By id, `provider/id` or alias. */
  resolve(name: string): CatalogModel | undefined;
  /** The price row in force at `at`, with the tariff window and prompt-size tier applied. */
  priceAt(model: CatalogModel, at: Date, promptTokens: number): UnitPrices;
  isRetired(model: CatalogModel, at: Date): boolean;
}

function inWindow(minutes: number, from: string, to: string): boolean {
  const f = Number(from.slice(0, 2)) * 60 + Number(from.slice(3));
  const t = Number(to.slice(0, 2)) * 60 + Number(to.slice(3));
  return f <= t ? minutes >= f && minutes < t : minutes >= f || minutes < t; // a window may cross midnight
}

interface CompiledPrice {
  from: number;
  entry: PriceEntry;
  base: Omit<UnitPrices, 'version' | 'tariff'>;
}

function triple(p: { input: string; cached_input?: string; output: string }) {
  const input = perMillionToPicoPerToken(p.input);
  return {
    input,
    cachedInput: p.cached_input === undefined ? input : perMillionToPicoPerToken(p.cached_input),
    output: perMillionToPicoPerToken(p.output),
  };
}

export function buildCatalog(file: CatalogFile): Catalog {
  const byName = new Map<string, CatalogModel>();
  const prices = new Map<CatalogModel, CompiledPrice[]>();
  for (const m of file.models) {
    byName.set(m.id, m);
    byName.set(`${m.provider}/${m.id}`, m);
    if (m.upstream_id) byName.set(`${m.provider}/${m.upstream_id}`, m);
    for (const a of m.aliases) byName.set(a, m);
    prices.set(
      m,
      m.prices
        .map((entry) => ({ from: entry.effective_from.getTime(), entry, base: triple(entry) }))
        .sort((a, b) => b.from - a.from),
    );
  }

  return {
    models: file.models,
    resolve: (name) => byName.get(name),
    isRetired: (m, at) => m.shutdown !== undefined && at.getTime() >= m.shutdown.getTime(),
    priceAt(model, at, promptTokens) {
      const rows = prices.get(model) ?? [];
      const t = at.getTime();
      // Before the first known price the earliest one applies (better an old price than none).
      const row = rows.find((r) => r.from <= t) ?? rows[rows.length - 1];
      if (!row) throw new Error(`no price for ${model.id}`);
      const e = row.entry;
      let version = `${model.id}@${e.effective_from.toISOString()}`;
      const tier = [...e.tiers].sort((a, b) => b.above_prompt_tokens - a.above_prompt_tokens).find((x) => promptTokens > x.above_prompt_tokens);
      if (tier) return { ...triple(tier), version: `${version}>${tier.above_prompt_tokens}`, tariff: null };
      const minutes = at.getUTCHours() * 60 + at.getUTCMinutes();
      const isoDay = at.getUTCDay() === 0 ? 7 : at.getUTCDay();
      const tariff = e.tariffs.find(
        (x) => (!x.weekdays || x.weekdays.includes(isoDay)) && x.windows.some((w) => inWindow(minutes, w.from, w.to)),
      );
      if (tariff) {
        version += `#${tariff.name}`;
        return { ...triple(tariff), version, tariff: tariff.name };
      }
      return { ...row.base, version, tariff: null };
    },
  };
}
