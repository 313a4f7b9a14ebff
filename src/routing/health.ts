// Circuit breakers per provider+model: open after repeated failures in a window, one probe after a pause, close on success.
import type { ProviderName } from '../providers/types.js';

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitChange {
  provider: ProviderName;
  model: string;
  from: CircuitState;
  to: CircuitState;
}

export interface HealthOptions {
  /** Failures within `windowMs` that open the circuit. */
  failureThreshold?: number;
  windowMs?: number;
  /** How long an open circuit refuses before letting one probe through. */
  openMs?: number;
  now: () => number;
  onChange?: (change: CircuitChange) => void;
}

export interface Health {
  /** May this provider+model be tried now? In half-open state this grants the single probe (so call it per attempt). */
  available(provider: ProviderName, model: string): boolean;
  /** Side-effect free: would `available` let a request through now (or is a probe due)? For ranking. */
  peek(provider: ProviderName, model: string): boolean;
  state(provider: ProviderName, model: string): CircuitState;
  success(provider: ProviderName, model: string): void;
  failure(provider: ProviderName, model: string): void;
  /** Every circuit seen so far; half-open counts as open (for the `tollgate_circuit_open` gauge). */
  snapshot(): Array<{ provider: ProviderName; model: string; open: boolean }>;
}

interface Circuit {
  provider: ProviderName;
  model: string;
  state: CircuitState;
  /** Failure times inside the window (closed state only). */
  failures: number[];
  openedAt: number;
  /** When the half-open probe was granted; a probe that never reports back is replaced after openMs. */
  probeAt: number | null;
}

export function createHealth(options: HealthOptions): Health {
  const threshold = options.failureThreshold ?? 5;
  const windowMs = options.windowMs ?? 30_000;
  const openMs = options.openMs ?? 15_000;
  const { now, onChange } = options;
  const circuits = new Map<string, Circuit>();

  const get = (provider: ProviderName, model: string): Circuit => {
    const key = `${provider}/${model}`;
    let c = circuits.get(key);
    if (!c) {
      c = { provider, model, state: 'closed', failures: [], openedAt: 0, probeAt: null };
      circuits.set(key, c);
    }
    return c;
  };
  const move = (c: Circuit, to: CircuitState) => {
    if (c.state === to) return;
    const from = c.state;
    c.state = to;
    onChange?.({ provider: c.provider, model: c.model, from, to });
  };
  const probeDue = (c: Circuit, t: number) =>
    (c.state === 'open' && t - c.openedAt >= openMs) || (c.state === 'half_open' && (c.probeAt === null || t - c.probeAt >= openMs));

  return {
    peek(provider, model) {
      const c = circuits.get(`${provider}/${model}`);
      return !c || c.state === 'closed' || probeDue(c, now());
    },
    available(provider, model) {
      const c = get(provider, model);
      if (c.state === 'closed') return true;
      const t = now();
      if (!probeDue(c, t)) return false;
      c.probeAt = t;
      move(c, 'half_open');
      return true;
    },
    state: (provider, model) => circuits.get(`${provider}/${model}`)?.state ?? 'closed',
    success(provider, model) {
      const c = get(provider, model);
      c.failures = [];
      c.probeAt = null;
      move(c, 'closed');
    },
    failure(provider, model) {
      const c = get(provider, model);
      const t = now();
      if (c.state === 'half_open') {
        // The probe failed: wait a full openMs again.
        c.openedAt = t;
        c.probeAt = null;
        move(c, 'open');
        return;
      }
      if (c.state === 'open') return;
      c.failures = c.failures.filter((x) => t - x < windowMs);
      c.failures.push(t);
      if (c.failures.length >= threshold) {
        c.failures = [];
        c.openedAt = t;
        move(c, 'open');
      }
    },
    snapshot: () => [...circuits.values()].map((c) => ({ provider: c.provider, model: c.model, open: c.state !== 'closed' })),
  };
}
