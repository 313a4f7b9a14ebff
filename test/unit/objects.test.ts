// src/objects.ts: the copies the request path makes instead of extending a spread clone or deleting a field.
import { describe, expect, it } from 'vitest';
import { copyWithout, reshape, withKey } from '../../src/objects.js';

describe('withKey', () => {
  it('copies the object with the key added last, or overwritten where it was; the original is untouched', () => {
    const o = { a: 1, b: 'x' };
    const added = withKey(o, 'c', true);
    expect(added).toEqual({ a: 1, b: 'x', c: true });
    expect(Object.keys(added)).toEqual(['a', 'b', 'c']);
    const replaced = withKey(o, 'a', 2);
    expect(Object.keys(replaced)).toEqual(['a', 'b']);
    expect(replaced.a).toBe(2);
    expect(o).toEqual({ a: 1, b: 'x' });
    expect(added).not.toBe(o);
  });

  it('starts from nothing when there is no object, and copies only own properties', () => {
    expect(withKey(undefined, 'include_usage', true)).toEqual({ include_usage: true });
    expect(withKey(null, 'k', 0)).toEqual({ k: 0 });
    const inherited = Object.create({ hidden: 1 }) as Record<string, unknown>;
    inherited.own = 2;
    expect(withKey(inherited, 'k', 3)).toEqual({ own: 2, k: 3 });
  });
});

describe('reshape', () => {
  const fields = new Map<string, string | null>([
    ['max_tokens', 'max_completion_tokens'],
    ['thinking', null],
  ]);

  it('returns the object itself when none of the fields is there', () => {
    const o = { model: 'm', messages: [], max_completion_tokens: 3, thinking: undefined };
    expect(reshape(o, fields)).toBe(o);
  });

  it('renames a field, keeping its place among the rest, and drops the ones mapped to null', () => {
    const o = { model: 'm', max_tokens: 9, thinking: { type: 'enabled' }, messages: [] };
    const out = reshape(o, fields);
    expect(out).toEqual({ model: 'm', messages: [], max_completion_tokens: 9 });
    expect(o).toEqual({ model: 'm', max_tokens: 9, thinking: { type: 'enabled' }, messages: [] });
  });

  it('keeps the new name when it is already set and drops the old one', () => {
    expect(reshape({ max_tokens: 9, max_completion_tokens: 5 }, fields)).toEqual({ max_completion_tokens: 5 });
    expect(reshape({ max_completion_tokens: 5, max_tokens: 9 }, fields)).toEqual({ max_completion_tokens: 5 });
  });

  it('fills a new name that is present but null, and drops an old name that is null', () => {
    expect(reshape({ max_completion_tokens: null, max_tokens: 9 }, fields)).toEqual({ max_completion_tokens: 9 });
    expect(reshape({ max_tokens: null, a: 1 }, fields)).toEqual({ a: 1 });
  });
});

describe('copyWithout', () => {
  it('copies own properties in order, leaving out the named ones, into a new object', () => {
    const o = { a: 1, stream: true, b: 2, stream_options: {} };
    const out = copyWithout(o, new Set(['stream', 'stream_options']));
    expect(Object.keys(out)).toEqual(['a', 'b']);
    expect(out).not.toBe(o);
    expect(copyWithout(o)).toEqual(o);
    expect(copyWithout(null)).toEqual({});
    expect(copyWithout(Object.assign(Object.create({ inherited: 1 }) as object, { own: 1 }))).toEqual({ own: 1 });
  });
});
