// Cheap counters for the request path: plain numbers per label tuple, copied into prom-client only when scraped.
import { Counter, type Registry } from 'prom-client';

/** One counter series: the request path adds to `value`; nothing else happens until a scrape. */
export interface CounterSeries {
  value: number;
  readonly labels: Readonly<Record<string, string>>;
}

export interface CounterFamily {
  /** The series for these label values (in labelNames order), created once and then found by map lookups. */
  series(values: readonly string[]): CounterSeries;
}

interface Node {
  children: Map<string, Node>;
  leaf?: CounterSeries;
}

/**
 * prom-client hashes and validates the label object on every `inc`, even through `labels()` children. Here a request
 * only walks a tree of Maps and adds to a number; the prom-client Counter is rebuilt from these numbers in its
 * `collect` hook, so the exposition format and the registry stay prom-client's own.
 */
export function createCounterFamily(registry: Registry, name: string, help: string, labelNames: readonly string[]): CounterFamily {
  const root: Node = { children: new Map() };
  const all: CounterSeries[] = [];
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of all) this.inc(s.labels, s.value);
    },
  });
  return {
    series(values) {
      let node = root;
      for (const v of values) {
        let next = node.children.get(v);
        if (!next) node.children.set(v, (next = { children: new Map() }));
        node = next;
      }
      if (!node.leaf) {
        if (values.length !== labelNames.length) throw new Error(`${name}: expected ${labelNames.length} label values`);
        const labels: Record<string, string> = {};
        labelNames.forEach((n, i) => (labels[n] = values[i]));
        node.leaf = { value: 0, labels };
        all.push(node.leaf);
      }
      return node.leaf;
    },
  };
}

export interface LabelMapperOptions {
  /** Distinct values labelled as themselves; later ones map to `other`. */
  cap: number;
  /** Label used for null. */
  nullValue: string;
}

/** Bounded label values: the first `cap` distinct values keep their name, the rest become `other`. */
export function createLabelMapper(options: LabelMapperOptions): (value: string | null) => string {
  const seen = new Set<string>();
  return (value) => {
    if (value === null || value === '') return options.nullValue;
    if (seen.has(value)) return value;
    if (seen.size < options.cap && value !== 'other') {
      seen.add(value);
      return value;
    }
    return 'other';
  };
}
