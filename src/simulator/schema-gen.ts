// Deterministic sample values that satisfy a JSON Schema (or Gemini's OpenAPI-style schema): tool arguments, JSON output.
import { isRecord, pick, type Rng } from './util.js';

const WORDS = ['alpha', 'berlin', 'cobalt', 'delta', 'ember', 'falcon', 'garnet', 'harbor', 'indigo', 'juniper', 'kepler', 'lumen'];
const MAX_DEPTH = 6;

interface GenContext {
  rng: Rng;
  root: Record<string, unknown>;
  depth: number;
}

/** A value valid against `schema` (best effort for exotic keywords), chosen by `rng`. */
export function sampleFromSchema(schema: unknown, rng: Rng): unknown {
  const root = isRecord(schema) ? schema : {};
  return gen(root, { rng, root, depth: 0 });
}

function resolveRef(ref: string, root: Record<string, unknown>): Record<string, unknown> {
  if (!ref.startsWith('#/')) return {};
  let node: unknown = root;
  for (const seg of ref.slice(2).split('/')) {
    const key = seg.replace(/~1/g, '/').replace(/~0/g, '~');
    node = isRecord(node) ? node[key] : undefined;
  }
  return isRecord(node) ? node : {};
}

/** Gemini's Schema uses upper-case types ("OBJECT") and `nullable`; JSON Schema may list several types. */
function typeOf(s: Record<string, unknown>): string | undefined {
  const t = s.type;
  if (typeof t === 'string') return t.toLowerCase();
  if (Array.isArray(t)) {
    const first = t.find((x) => typeof x === 'string' && x.toLowerCase() !== 'null');
    return typeof first === 'string' ? first.toLowerCase() : 'null';
  }
  if (isRecord(s.properties)) return 'object';
  if (s.items !== undefined) return 'array';
  return undefined;
}

function gen(s: Record<string, unknown>, ctx: GenContext): unknown {
  if (ctx.depth > MAX_DEPTH) return null;
  const next = { ...ctx, depth: ctx.depth + 1 };
  if (typeof s.$ref === 'string') return gen(resolveRef(s.$ref, ctx.root), next);
  if (s.const !== undefined) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return pick(ctx.rng, s.enum);
  for (const key of ['anyOf', 'oneOf'] as const) {
    const alts = s[key];
    if (Array.isArray(alts) && alts.length > 0) {
      // Prefer a non-null alternative: a tool argument of `null` is valid but useless.
      const alt = alts.find((a) => isRecord(a) && typeOf(a) !== 'null') ?? alts[0];
      return gen(isRecord(alt) ? alt : {}, next);
    }
  }
  if (Array.isArray(s.allOf)) return gen(mergeAllOf(s), next);
  switch (typeOf(s)) {
    case 'object':
      return genObject(s, next);
    case 'array':
      return genArray(s, next);
    case 'string':
      return genString(s, ctx.rng);
    case 'integer':
      return genNumber(s, ctx.rng, true);
    case 'number':
      return genNumber(s, ctx.rng, false);
    case 'boolean':
      return ctx.rng() < 0.5;
    case 'null':
      return null;
    default:
      return pick(ctx.rng, WORDS);
  }
}

/** allOf as one schema: properties and required lists are unioned, other keywords of later parts win. */
function mergeAllOf(s: Record<string, unknown>): Record<string, unknown> {
  const parts = [...(s.allOf as unknown[]).filter(isRecord), { ...s, allOf: undefined }];
  const merged: Record<string, unknown> = {};
  const properties: Record<string, unknown> = {};
  const required = new Set<unknown>();
  for (const part of parts) {
    Object.assign(merged, part);
    if (isRecord(part.properties)) Object.assign(properties, part.properties);
    if (Array.isArray(part.required)) for (const r of part.required) required.add(r);
  }
  if (Object.keys(properties).length > 0) merged.properties = properties;
  if (required.size > 0) merged.required = [...required];
  return merged;
}

function genObject(s: Record<string, unknown>, ctx: GenContext): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const props = isRecord(s.properties) ? s.properties : {};
  // Every declared property is filled: strict mode requires them all, and optional ones are still valid.
  for (const [name, sub] of Object.entries(props)) out[name] = gen(isRecord(sub) ? sub : {}, ctx);
  const required = Array.isArray(s.required) ? s.required : [];
  for (const name of required) if (typeof name === 'string' && !(name in out)) out[name] = pick(ctx.rng, WORDS);
  return out;
}

function genArray(s: Record<string, unknown>, ctx: GenContext): unknown[] {
  const min = typeof s.minItems === 'number' ? s.minItems : 1;
  const max = typeof s.maxItems === 'number' ? s.maxItems : Math.max(min, 2);
  const n = Math.min(max, Math.max(min, 1 + Math.floor(ctx.rng() * 2)));
  const items = isRecord(s.items) ? s.items : {};
  if (Array.isArray(s.prefixItems)) return s.prefixItems.map((p) => gen(isRecord(p) ? p : {}, ctx));
  return Array.from({ length: n }, () => gen(items, ctx));
}

function genString(s: Record<string, unknown>, rng: Rng): string {
  switch (s.format) {
    case 'date':
      return '2026-11-29';
    case 'date-time':
      return '2026-11-29T12:00:00Z';
    case 'email':
      return `${pick(rng, WORDS)}@example.com`;
    case 'uri':
    case 'url':
      return `https://example.com/${pick(rng, WORDS)}`;
    case 'uuid':
      return '00000000-0000-4000-8000-000000000000';
    default:
      break;
  }
  let text = `${pick(rng, WORDS)} ${pick(rng, WORDS)}`;
  const min = typeof s.minLength === 'number' ? s.minLength : 0;
  const max = typeof s.maxLength === 'number' ? s.maxLength : Infinity;
  while (text.length < min) text += ` ${pick(rng, WORDS)}`;
  return text.slice(0, Math.max(min, Math.min(max, text.length)));
}

function genNumber(s: Record<string, unknown>, rng: Rng, integer: boolean): number {
  const num = (k: string) => (typeof s[k] === 'number' ? (s[k] as number) : undefined);
  const exMin = num('exclusiveMinimum');
  const exMax = num('exclusiveMaximum');
  let lo = num('minimum') ?? (exMin !== undefined ? exMin + (integer ? 1 : 0.001) : 0);
  let hi = num('maximum') ?? (exMax !== undefined ? exMax - (integer ? 1 : 0.001) : lo + 100);
  if (hi < lo) hi = lo;
  if (integer) {
    lo = Math.ceil(lo);
    hi = Math.floor(hi);
    return hi < lo ? lo : lo + Math.floor(rng() * (hi - lo + 1));
  }
  const v = lo + rng() * (hi - lo);
  const rounded = Math.round(v * 100) / 100;
  // Rounding may step over an (exclusive) bound: keep the exact value then.
  const inside = rounded >= lo && rounded <= hi && (exMin === undefined || rounded > exMin) && (exMax === undefined || rounded < exMax);
  return inside ? rounded : v;
}
