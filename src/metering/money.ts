// Exact money: USD as integer pico-dollars (BigInt), parsed from and printed to decimal strings. Never a float.

export const PICO_PER_USD = 1_000_000_000_000n;

/** "12.5" → 12_500_000_000_000n. Accepts up to 12 decimals; throws on anything else. */
export function usdToPico(usd: string): bigint {
  const m = /^(\d+)(?:\.(\d{1,12}))?$/.exec(usd.trim());
  if (!m) throw new RangeError(`not a USD amount: ${usd}`);
  return BigInt(m[1]) * PICO_PER_USD + BigInt((m[2] ?? '').padEnd(12, '0'));
}

/** USD per 1M tokens ("0.15") → pico-USD per token (150_000n). Exact for up to 6 decimals. */
export function perMillionToPicoPerToken(usdPerMillion: string): bigint {
  const m = /^(\d+)(?:\.(\d{1,6}))?$/.exec(usdPerMillion.trim());
  if (!m) throw new RangeError(`not a price per 1M tokens with at most 6 decimals: ${usdPerMillion}`);
  return BigInt(m[1]) * 1_000_000n + BigInt((m[2] ?? '').padEnd(6, '0'));
}

/** 12_500_000_000_000n → "12.500000000000" (fixed 12 decimals, exact). */
export function picoToUsd(pico: bigint, decimals = 12): string {
  const neg = pico < 0n;
  const abs = neg ? -pico : pico;
  const whole = abs / PICO_PER_USD;
  const frac = (abs % PICO_PER_USD).toString().padStart(12, '0').slice(0, decimals);
  return `${neg ? '-' : ''}${whole}${decimals > 0 ? `.${frac}` : ''}`;
}

/** Pico-USD as a JS number of USD, for Prometheus counters and charts only (never for sums of record). */
export function picoToUsdNumber(pico: bigint): number {
  return Number(pico) / 1e12;
}
