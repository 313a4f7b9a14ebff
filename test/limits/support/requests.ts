// Builders of limiter requests, settlements, budgets and seeders for the tests (no vitest import: child processes use them).
import type { AdmitRequest, BudgetSpec, RateLimitSpec, Settlement, SpendSeeder } from '../../../src/limits/interface.js';
import { periodBounds } from '../../../src/limits/budgets.js';
import { uniqueId } from '../../support/services.js';

/** A fixed instant away from today's date (counters in Redis expire after their period: keep it in the future). */
export const T0 = Date.UTC(2031, 5, 15, 12, 0, 0);
const MINUTE = 60_000;

export function daySpec(now: number, limitPico: bigint, mode: 'hard' | 'soft' = 'hard'): BudgetSpec {
  const { start, end } = periodBounds('day', new Date(now));
  return { period: 'day', limitPico, mode, periodStart: start, periodEnd: end };
}

export function monthSpec(now: number, limitPico: bigint): BudgetSpec {
  const { start, end } = periodBounds('month', new Date(now));
  return { period: 'month', limitPico, mode: 'hard', periodStart: start, periodEnd: end };
}

export interface RequestInput {
  tenantId: string;
  keyId?: string | null;
  model?: string | null;
  now?: number;
  tokens?: number;
  reservePico?: bigint;
  tenant?: RateLimitSpec;
  key?: RateLimitSpec;
  modelLimits?: RateLimitSpec;
  budgets?: BudgetSpec[];
  requestId?: string;
}

export function request(i: RequestInput): AdmitRequest {
  return {
    requestId: i.requestId ?? uniqueId('req'),
    tenantId: i.tenantId,
    keyId: i.keyId === undefined ? 'key_a' : i.keyId,
    model: i.model === undefined ? 'gpt-4o-mini' : i.model,
    now: i.now ?? T0,
    tokens: i.tokens ?? 0,
    reservePico: i.reservePico ?? 0n,
    limits: { tenant: i.tenant ?? {}, key: i.key ?? {}, model: i.modelLimits ?? {} },
    budgets: i.budgets ?? [],
  };
}

export function settlement(req: AdmitRequest, actualPico: bigint, actualTokens = req.tokens, now = req.now): Settlement {
  return {
    requestId: req.requestId,
    tenantId: req.tenantId,
    keyId: req.keyId,
    model: req.model,
    now,
    actualPico,
    actualTokens,
    estimatedTokens: req.tokens,
    budgets: req.budgets,
  };
}

/** A seeder answering from a table (tenant → spend), recording its calls. */
export function tableSeeder(initial: Record<string, bigint> = {}) {
  const table = new Map(Object.entries(initial));
  const calls: Array<{ tenantId: string; since: string }> = [];
  const seeder: SpendSeeder = async (tenantId, since) => {
    calls.push({ tenantId, since: since.toISOString() });
    return table.get(tenantId) ?? 0n;
  };
  return { seeder, table, calls };
}

