// src/stamp.ts: a value kept on an object like a WeakMap entry, invisible to every copy and serialisation.
import { describe, expect, it } from 'vitest';
import { createStamp } from '../../src/stamp.js';

describe('createStamp', () => {
  it('gives back what was set on an object, and nothing for an object never stamped', () => {
    const s = createStamp<string>();
    const o = JSON.parse('{"id":"chatcmpl-1","choices":[]}') as object;
    expect(s.get(o)).toBeUndefined();
    s.set(o, 'text');
    expect(s.get(o)).toBe('text');
    s.set(o, 'again');
    expect(s.get(o)).toBe('again');
  });

  it('is invisible to JSON, spread, Object.assign and the key lists: a copy carries nothing', () => {
    const s = createStamp<string>();
    const o = { a: 1 };
    s.set(o, 'text');
    expect(JSON.stringify(o)).toBe('{"a":1}');
    expect(Reflect.ownKeys(o)).toEqual(['a']);
    expect(s.get({ ...o })).toBeUndefined();
    expect(s.get(Object.assign({}, o))).toBeUndefined();
    expect(s.get(structuredClone(o))).toBeUndefined();
  });

  it('keeps stamps apart, and stamps frozen objects and arrays', () => {
    const a = createStamp<number>();
    const b = createStamp<number>();
    const o = Object.freeze({ x: 1 });
    a.set(o, 1);
    expect(a.get(o)).toBe(1);
    expect(b.get(o)).toBeUndefined();
    const arr: unknown[] = [];
    b.set(arr, 2);
    expect(b.get(arr)).toBe(2);
    expect(JSON.stringify(arr)).toBe('[]');
  });
});
