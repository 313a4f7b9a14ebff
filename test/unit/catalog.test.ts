import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { catalogSchema } from '../../src/config/catalog.js';
import { buildCatalog } from '../../src/routing/catalog.js';

const { catalog } = loadConfig({ env: {} });

describe('catalog', () => {
  it('resolves ids, provider/id and aliases', () => {
    expect(catalog.resolve('gpt-4o-mini')?.provider).toBe('openai');
    expect(catalog.resolve('openai/gpt-4o-mini')?.id).toBe('gpt-4o-mini');
    expect(catalog.resolve('deepseek-v4-flash')?.id).toBe('deepseek-flash');
    expect(catalog.resolve('gemini/gemini-2.5-flash')?.id).toBe('gemini-2.5-flash');
    expect(catalog.resolve('nope')).toBeUndefined();
  });

  it('applies DeepSeek peak hours on weekdays, off-peak otherwise (UTC)', () => {
    const m = catalog.resolve('deepseek-flash')!;
    const wed = (h: string) => new Date(`2026-11-25T${h}:00Z`); // a Wednesday
    expect(catalog.priceAt(m, wed('02:00'), 10).output).toBe(1_200_000n);
    expect(catalog.priceAt(m, wed('03:59'), 10).tariff).toBe('peak');
    expect(catalog.priceAt(m, wed('04:00'), 10).tariff).toBeNull();
    expect(catalog.priceAt(m, wed('12:00'), 10).output).toBe(600_000n);
    expect(catalog.priceAt(m, wed('06:00'), 10).input).toBe(300_000n);
    expect(catalog.priceAt(m, new Date('2026-11-29T02:00:00Z'), 10).tariff).toBeNull(); // Sunday
  });

  it('answers with prices built once and frozen: the same object for the same row and tariff, never modifiable', () => {
    const m = catalog.resolve('deepseek-flash')!;
    const wed = (h: string) => new Date(`2026-11-25T${h}:00Z`);
    const peak = catalog.priceAt(m, wed('02:00'), 10);
    expect(catalog.priceAt(m, wed('03:00'), 99)).toBe(peak);
    expect(catalog.priceAt(m, wed('12:00'), 10)).not.toBe(peak);
    expect(Object.isFrozen(peak)).toBe(true);
    expect(() => Object.assign(peak, { output: 0n })).toThrow(TypeError);
  });

  it('uses the price in force when the request started, and windows crossing midnight', () => {
    const m = catalog.resolve('deepseek-chat')!;
    expect(catalog.priceAt(m, new Date('2025-06-01T12:00:00Z'), 10).input).toBe(270_000n);
    expect(catalog.priceAt(m, new Date('2025-06-01T23:00:00Z'), 10).tariff).toBe('night');
    expect(catalog.priceAt(m, new Date('2025-06-02T00:15:00Z'), 10).tariff).toBe('night');
    expect(catalog.priceAt(m, new Date('2025-06-02T00:30:00Z'), 10).tariff).toBeNull();
    expect(catalog.priceAt(m, new Date('2025-10-01T23:00:00Z'), 10).input).toBe(560_000n);
  });

  it('applies prompt-size tiers (Gemini 2.5 Pro above 200k)', () => {
    const m = catalog.resolve('gemini-2.5-pro')!;
    const at = new Date('2026-11-20T12:00:00Z');
    expect(catalog.priceAt(m, at, 200_000).input).toBe(1_250_000n);
    expect(catalog.priceAt(m, at, 200_001).input).toBe(2_500_000n);
  });

  it('knows retirement dates', () => {
    const m = catalog.resolve('gemini-2.5-flash')!;
    expect(catalog.isRetired(m, new Date('2026-11-30T23:59:59Z'))).toBe(false);
    expect(catalog.isRetired(m, new Date('2026-12-01T00:00:00Z'))).toBe(true);
  });

  it('rejects a bad catalog with the path of the bad value', () => {
    const bad = catalogSchema.safeParse({
      models: [{ id: 'x', provider: 'openai', jurisdiction: 'us', capabilities: { context_window: 1, max_output: 1 }, prices: [{ effective_from: '2026-01-01', input: '0.1234567' }] }],
    });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0].path).toEqual(['models', 0, 'prices', 0, 'input']);
    const dup = catalogSchema.safeParse({
      models: ['a', 'a'].map((id) => ({ id, provider: 'openai', jurisdiction: 'us', capabilities: { context_window: 1, max_output: 1 }, prices: [{ effective_from: '2026-01-01', input: '1' }] })),
    });
    expect(dup.success).toBe(false);
    expect(() => buildCatalog(catalogSchema.parse({ models: [] as unknown[] }))).toThrow();
  });
});
