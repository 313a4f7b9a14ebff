// Object copies for the request path that stay on V8's fast paths (Node 20, V8 11.3).
//
// `{ ...o, k: v }` with a key `o` lacks, or a clone of `o` given a new key later, adds each such property through V8's
// runtime: the clone's map is not in any transition tree, so every call builds new maps. Measured (scratch
// micro-benchmark, 2026-12-07): ~0.8 µs and ~0.5 KiB per added property, against ~20 ns for a spread that only
// overwrites keys `o` has, and ~0.2 µs for 12 properties added one by one to `{}`. `delete` turns an object into a
// dictionary, which JSON.stringify serialises on its slow path. So: overwrite through a spread, but extend through
// these. Nor a getter or setter in an object literal built per request: its accessor pair is per closure, so each
// object is left with properties in dictionary mode (an upstream answer's `get headers()` raised the bytes promoted
// per request from 2.3 to 9.4 KB, 2026-12-07). test/unit/shapes.test.ts checks the main request-path objects.

type Obj = Record<string, unknown>;
const NONE: Keys = new Set();
/** A set of names (a Set, or a Map's keys). */
type Keys = { has(key: string): boolean };

/** A copy of `o`'s own enumerable properties, in order, but those named in `omit`; a new object to add keys to. */
export function copyWithout(o: object | null | undefined, omit: Keys = NONE): Obj {
  const out: Obj = {};
  if (o) for (const k in o) if (Object.hasOwn(o, k) && !omit.has(k)) out[k] = (o as Obj)[k];
  return out;
}

/** A copy of `o` (own enumerable properties, in order) with `key` set to `value` (last when `o` lacks it). */
export function withKey<T extends object, K extends string, V>(o: T | null | undefined, key: K, value: V): T & { [P in K]: V } {
  const out = copyWithout(o);
  out[key] = value;
  return out as T & { [P in K]: V };
}

/**
 * `o` with top-level fields dropped (`null`) or renamed (the new name is kept when it is already set, and the old one
 * dropped). `o` itself when none of the fields is there; otherwise a copy, with no `delete`.
 */
export function reshape(o: Obj, fields: ReadonlyMap<string, string | null>): Obj {
  let touched = false;
  for (const k of fields.keys()) {
    if (o[k] !== undefined) {
      touched = true;
      break;
    }
  }
  if (!touched) return o;
  const out = copyWithout(o, fields);
  for (const [from, to] of fields) {
    const v = o[from];
    if (to !== null && v != null && out[to] == null) out[to] = v;
  }
  return out;
}
