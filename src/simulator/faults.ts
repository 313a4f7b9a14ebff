// Fault injection: rules set by tests or the control API, a `[[sim:fault=…]]` prompt marker, or an `x-sim-fault` header.
import type { Fault, FaultRule, SimProvider } from './types.js';

/**
 * Compact text form, shared by markers, the header and SimRecord.fault:
 * `status:429[:retryAfterS]`, `reset`, `hang`, `delay:MS`, `cut:N`, `error_event:N`, `auth`.
 */
export function parseFaultSpec(spec: string): Fault | null {
  const [kind, a, b] = spec.trim().split(':');
  const n = (s: string | undefined) => (s !== undefined && /^\d+$/.test(s) ? Number(s) : undefined);
  switch (kind) {
    case 'status': {
      const status = n(a);
      if (status === undefined || status < 400 || status > 599) return null;
      const retry = n(b);
      return retry === undefined ? { type: 'status', status } : { type: 'status', status, retryAfterS: retry };
    }
    case 'reset':
    case 'hang':
    case 'auth':
      return { type: kind };
    case 'delay':
      return n(a) === undefined ? null : { type: 'delay', ms: n(a) ?? 0 };
    case 'cut':
    case 'error_event':
      return { type: kind, afterChunks: n(a) ?? 0 };
    default:
      return null;
  }
}

export function faultName(f: Fault): string {
  switch (f.type) {
    case 'status':
      return f.retryAfterS === undefined ? `status:${f.status}` : `status:${f.status}:${f.retryAfterS}`;
    case 'delay':
      return `delay:${f.ms}`;
    case 'cut':
    case 'error_event':
      return `${f.type}:${f.afterChunks}`;
    default:
      return f.type;
  }
}

const MARKER = /\[\[sim:fault=([^\]]+)\]\]/;

/** The fault named by a marker in `text` (the last user message), if any. */
export function faultFromText(text: string): Fault | null {
  if (!text.includes('[[sim:fault=')) return null;
  const m = MARKER.exec(text);
  return m ? parseFaultSpec(m[1]) : null;
}

export interface FaultBook {
  set(rules: FaultRule[]): void;
  clear(): void;
  /** The first rule matching provider and model; counts one use of it. */
  take(provider: SimProvider, model: string): Fault | null;
}

export function createFaultBook(): FaultBook {
  let rules: Array<FaultRule & { left: number }> = [];
  return {
    set(next) {
      rules = next.map((r) => ({ ...r, left: r.times ?? Number.POSITIVE_INFINITY }));
    },
    clear() {
      rules = [];
    },
    take(provider, model) {
      if (rules.length === 0) return null;
      const rule = rules.find((r) => r.left > 0 && (!r.provider || r.provider === provider) && (!r.model || r.model === model));
      if (!rule) return null;
      rule.left -= 1;
      return rule.fault;
    },
  };
}
