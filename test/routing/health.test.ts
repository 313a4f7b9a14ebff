// Circuit breakers with an injected clock: open after N failures in the window, one half-open probe, recovery.
import { describe, expect, it } from 'vitest';
import { createHealth, type CircuitChange } from '../../src/routing/health.js';

function setup() {
  let t = 1_000_000;
  const changes: CircuitChange[] = [];
  const h = createHealth({ failureThreshold: 3, windowMs: 10_000, openMs: 5_000, now: () => t, onChange: (c) => changes.push(c) });
  return { h, changes, advance: (ms: number) => (t += ms) };
}

describe('health: circuit breakers per provider+model', () => {
  it('opens after N failures within the window, only for that provider+model', () => {
    const { h, changes } = setup();
    h.failure('openai', 'gpt-4o');
    h.failure('openai', 'gpt-4o');
    expect(h.available('openai', 'gpt-4o')).toBe(true);
    h.failure('openai', 'gpt-4o');
    expect(h.available('openai', 'gpt-4o')).toBe(false);
    expect(h.peek('openai', 'gpt-4o')).toBe(false);
    expect(h.available('openai', 'gpt-4o-mini')).toBe(true);
    expect(h.snapshot().find((s) => s.model === 'gpt-4o')).toEqual({ provider: 'openai', model: 'gpt-4o', open: true });
    expect(changes).toEqual([{ provider: 'openai', model: 'gpt-4o', from: 'closed', to: 'open' }]);
  });

  it('does not open for failures spread wider than the window, and a success resets the count', () => {
    const { h, advance } = setup();
    h.failure('gemini', 'g');
    h.failure('gemini', 'g');
    advance(10_001);
    h.failure('gemini', 'g');
    expect(h.state('gemini', 'g')).toBe('closed');
    h.failure('gemini', 'g');
    h.success('gemini', 'g');
    h.failure('gemini', 'g');
    h.failure('gemini', 'g');
    expect(h.state('gemini', 'g')).toBe('closed');
  });

  it('lets exactly one probe through after openMs and closes when it succeeds', () => {
    const { h, advance, changes } = setup();
    for (let i = 0; i < 3; i++) h.failure('deepseek', 'deepseek-flash');
    advance(4_999);
    expect(h.available('deepseek', 'deepseek-flash')).toBe(false);
    advance(1);
    expect(h.peek('deepseek', 'deepseek-flash')).toBe(true); // peeking does not take the probe
    expect(h.available('deepseek', 'deepseek-flash')).toBe(true);
    expect(h.state('deepseek', 'deepseek-flash')).toBe('half_open');
    expect(h.available('deepseek', 'deepseek-flash')).toBe(false);
    expect(h.peek('deepseek', 'deepseek-flash')).toBe(false);
    h.success('deepseek', 'deepseek-flash');
    expect(h.available('deepseek', 'deepseek-flash')).toBe(true);
    expect(h.available('deepseek', 'deepseek-flash')).toBe(true);
    expect(h.snapshot()).toEqual([{ provider: 'deepseek', model: 'deepseek-flash', open: false }]);
    expect(changes.map((c) => c.to)).toEqual(['open', 'half_open', 'closed']);
  });

  it('a failed probe re-opens the circuit for another full openMs', () => {
    const { h, advance } = setup();
    for (let i = 0; i < 3; i++) h.failure('openai', 'm');
    advance(5_000);
    expect(h.available('openai', 'm')).toBe(true);
    h.failure('openai', 'm');
    expect(h.state('openai', 'm')).toBe('open');
    advance(4_000);
    expect(h.available('openai', 'm')).toBe(false);
    advance(1_000);
    expect(h.available('openai', 'm')).toBe(true);
  });

  it('a probe that never reports back does not wedge the circuit', () => {
    const { h, advance } = setup();
    for (let i = 0; i < 3; i++) h.failure('openai', 'm');
    advance(5_000);
    expect(h.available('openai', 'm')).toBe(true);
    advance(4_999);
    expect(h.available('openai', 'm')).toBe(false);
    advance(1);
    expect(h.available('openai', 'm')).toBe(true);
  });

  it('uses the documented defaults (5 failures)', () => {
    const h = createHealth({ now: () => 0 });
    for (let i = 0; i < 4; i++) h.failure('openai', 'm');
    expect(h.available('openai', 'm')).toBe(true);
    h.failure('openai', 'm');
    expect(h.available('openai', 'm')).toBe(false);
  });
});
