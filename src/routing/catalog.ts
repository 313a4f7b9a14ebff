// The model catalog at run time: name resolution and the price in force for a model at an instant.
import type { CatalogFile, CatalogModel } from '../config/catalog.js';
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
  /** The price row in force at `at`, with the tariff window and prompt-size tier applied (built once, frozen). */
  priceAt(model: CatalogModel, at: Date, promptTokens: number): Readonly<UnitPrices>;
  /** The price row in force at `at`, every price of it built once: base, size tiers, tariffs (the off-peak saving). */
  rowAt(model: CatalogModel, at: Date): PricedRow;
  isRetired(model: CatalogModel, at: Date): boolean;
  /**
   * The smallest chat context window and first prompt-size price tier (+1), in tokens: below it an exact prompt token
   * count changes no routing or pricing decision, so the request path may estimate (metering/tokens estimatePromptTokens).
   */
  readonly exactCountFrom: number;
}

function minutesOf(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3));
}

function inWindow(minutes: number, f: number, t: number): boolean {
  return f <= t ? minutes >= f && minutes < t : minutes >= f || minutes < t; // a window may cross midnight
}

/** A tariff with its windows in minutes of the day and its prices in pico-USD, compiled once. */
export interface CompiledTariff {
  weekdays: readonly number[] | undefined;
  windows: Array<[number, number]>;
  prices: Readonly<UnitPrices>;
}

/**
 * One price row with every answer priceAt can give built once (frozen): priceAt runs for several models on every
 * request, and building its answer with a spread cost ~800 bytes and ~1.7 µs a call.
 */
export interface PricedRow {
  from: number;
  base: Readonly<UnitPrices>;
  /** Largest threshold first. */
  tiers: Array<{ above: number; prices: Readonly<UnitPrices> }>;
  tariffs: CompiledTariff[];
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
  const prices = new Map<CatalogModel, PricedRow[]>();
  for (const m of file.models) {
    byName.set(m.id, m);
    byName.set(`${m.provider}/${m.id}`, m);
    if (m.upstream_id) byName.set(`${m.provider}/${m.upstream_id}`, m);
    for (const a of m.aliases) byName.set(a, m);
    prices.set(
      m,
      m.prices
        .map((entry): PricedRow => {
          const version = `${m.id}@${entry.effective_from.toISOString()}`;
          const unit = (p: Parameters<typeof triple>[0], v: string, tariff: string | null) => Object.freeze({ ...triple(p), version: v, tariff });
          return {
            from: entry.effective_from.getTime(),
            base: unit(entry, version, null),
            tiers: [...entry.tiers]
              .sort((a, b) => b.above_prompt_tokens - a.above_prompt_tokens)
              .map((t) => ({ above: t.above_prompt_tokens, prices: unit(t, `${version}>${t.above_prompt_tokens}`, null) })),
            tariffs: entry.tariffs.map((t) => ({
              weekdays: t.weekdays,
              windows: t.windows.map((w): [number, number] => [minutesOf(w.from), minutesOf(w.to)]),
              prices: unit(t, `${version}#${t.name}`, t.name),
            })),
          };
        })
        .sort((a, b) => b.from - a.from),
    );
  }

  let exactCountFrom = Number.MAX_SAFE_INTEGER;
  for (const m of file.models) {
    if (m.kind !== 'chat') continue;
    exactCountFrom = Math.min(exactCountFrom, m.capabilities.context_window);
    for (const p of m.prices) for (const t of p.tiers) exactCountFrom = Math.min(exactCountFrom, t.above_prompt_tokens + 1);
  }

  function rowAt(model: CatalogModel, at: Date): PricedRow {
    const rows = prices.get(model) ?? [];
    const t = at.getTime();
    // Before the first known price the earliest one applies (better an old price than none).
    let row = rows[rows.length - 1];
    for (const r of rows) {
      if (r.from <= t) {
        row = r;
        break;
      }
    }
    if (!row) throw new Error(`no price for ${model.id}`);
    return row;
  }

  return {
    models: file.models,
    exactCountFrom,
    resolve: (name) => byName.get(name),
    isRetired: (m, at) => m.shutdown !== undefined && at.getTime() >= m.shutdown.getTime(),
    rowAt,
    priceAt(model, at, promptTokens) {
      const row = rowAt(model, at);
      for (const tier of row.tiers) if (promptTokens > tier.above) return tier.prices;
      if (row.tariffs.length === 0) return row.base;
      const minutes = at.getUTCHours() * 60 + at.getUTCMinutes();
      const isoDay = at.getUTCDay() === 0 ? 7 : at.getUTCDay();
      const tariff = row.tariffs.find(
        (x) => (!x.weekdays || x.weekdays.includes(isoDay)) && x.windows.some(([f, to]) => inWindow(minutes, f, to)),
      );
      return tariff ? tariff.prices : row.base;
    },

  };
}
