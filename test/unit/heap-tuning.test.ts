// src/heap-tuning.ts (imported first by main.ts): the V8 flags set at run time must take effect on this Node, and an
// operator's own flags must win. The growing factor is measured on a workload that keeps ~25 MB live and promotes
// garbage quickly, where V8's own factor runs high: its peak heap is ~190–230 MB untuned, ~115 MB tuned.
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { QuietAfterBusy, startIdleCollector } from '../../src/heap-tuning.js';

const tuning = pathToFileURL(resolve('build/heap-tuning.js')).href; // test/global-setup.ts built it

const churn = `
if (process.env.TUNE) await import(process.env.TUNE);
const live = []; for (let i = 0; i < 250_000; i++) live.push({ a: i, b: 'x' + i, c: [i] });
const ring = []; let peak = 0; const t0 = Date.now();
await new Promise((done) => {
  (function tick() {
    for (let i = 0; i < 2000; i++) ring.push({ s: 'y' + i, arr: new Array(10).fill(i) });
    if (ring.length > 60_000) ring.splice(0, 2000);
    peak = Math.max(peak, process.memoryUsage().heapTotal);
    if (Date.now() - t0 < 3000) setTimeout(tick, 5); else done();
  })();
});
process.stdout.write(String(peak / 1048576) + ' ' + live.length);
`;

// Start-up keeps what it allocates: the young generation (new space, two semi-spaces) stays at its initial size until
// startupDone(), then grows again.
const startup = `
import v8 from 'node:v8';
const newSpace = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size / 1048576;
let done = () => {};
if (process.env.TUNE) ({ startupDone: done } = await import(process.env.TUNE));
const keep = [];
const load = () => { for (let i = 0; i < 200_000; i++) keep.push({ i, s: 'k' + i, a: [i] }); };
load();
const during = newSpace();
done();
load();
process.stdout.write(JSON.stringify({ during, after: newSpace() }));
`;

function run(script: string, nodeArgs: string[], tune: boolean): string {
  return execFileSync(process.execPath, [...nodeArgs, '--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH, ...(tune ? { TUNE: tuning } : {}) },
    encoding: 'utf8',
  });
}

function peakHeapMb(nodeArgs: string[], tune: boolean): number {
  return Number(run(churn, nodeArgs, tune).split(' ')[0]);
}

function youngMb(nodeArgs: string[], tune: boolean): { during: number; after: number } {
  return JSON.parse(run(startup, nodeArgs, tune)) as { during: number; after: number };
}

describe('heap tuning', () => {
  it('caps the old generation swing, and yields to an explicit --heap-growing-percent', () => {
    const untuned = peakHeapMb([], false);
    const tuned = peakHeapMb([], true);
    const operator = peakHeapMb(['--heap-growing-percent=300'], true);
    expect(tuned).toBeLessThan(untuned * 0.8);
    expect(operator).toBeGreaterThan(tuned * 1.2);
  }, 60_000);

  it('holds the young generation at its initial size during start-up, and yields to --semi-space-growth-factor', () => {
    const untuned = youngMb([], false);
    const tuned = youngMb([], true);
    const operator = youngMb(['--semi-space-growth-factor=2'], true);
    expect(untuned.during).toBeGreaterThanOrEqual(16);
    expect(tuned.during).toBeLessThanOrEqual(4);
    expect(tuned.after).toBeGreaterThanOrEqual(16); // grows again once start-up is over
    expect(operator.during).toBeGreaterThanOrEqual(16);
  });
});

// The collection once the process goes quiet: exposed on this Node without --expose-gc, and it frees a burst's garbage.
const quiet = `
const { exposedGc } = await import(process.env.TUNE);
const gc = exposedGc();
let junk = [];
for (let i = 0; i < 300_000; i++) junk.push({ i, s: 'q' + i });
junk = null;
const before = process.memoryUsage().heapUsed;
gc();
process.stdout.write(JSON.stringify({ kind: typeof gc, freedMb: (before - process.memoryUsage().heapUsed) / 1048576 }));
`;

describe('collection when the process goes quiet', () => {
  it('collects once after a busy interval and a run of quiet ones, and again only after the next busy one', () => {
    const w = new QuietAfterBusy(0, 1000, 3);
    // CPU ms at each check: busy (40% of a core), quiet ×2, a short burst (resets the run), quiet ×3 → collect, quiet.
    const cpu = [400, 405, 410, 810, 815, 820, 825, 830];
    expect(cpu.map((c) => w.tick(c))).toEqual([false, false, false, false, false, false, true, false]);
    // Busy again, then quiet: once more.
    expect([1_230, 1_231, 1_232, 1_233].map((c) => w.tick(c))).toEqual([false, false, false, true]);
    // A steady trickle (3% of a core) is neither busy nor quiet, and it breaks a quiet run: nothing.
    const trickle = new QuietAfterBusy(0, 1000, 2);
    expect([400, 401, 431, 432, 462].map((c) => trickle.tick(c))).toEqual([false, false, false, false, false]);
    // Moderate traffic (6% of a core) counts as busy: its garbage is given back after the quiet run.
    const moderate = new QuietAfterBusy(0, 1000, 2);
    expect([60, 61, 62].map((c) => moderate.tick(c))).toEqual([false, false, true]);
  });

  it("runs from an unref'd timer reading the CPU time, and does nothing without a collector", () => {
    vi.useFakeTimers();
    try {
      let cpu = 0;
      const collect = vi.fn();
      const stop = startIdleCollector({ everyMs: 1000, quietIntervals: 2, cpuMs: () => cpu, collect });
      cpu += 500;
      vi.advanceTimersByTime(1000);
      vi.advanceTimersByTime(1000); // one quiet interval
      expect(collect).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1000); // two
      expect(collect).toHaveBeenCalledTimes(1);
      vi.advanceTimersByTime(5000);
      expect(collect).toHaveBeenCalledTimes(1);
      stop();
      expect(startIdleCollector({ collect: null })).toBeTypeOf('function');
    } finally {
      vi.useRealTimers();
    }
  });

  it('gets V8\'s gc() on this Node without --expose-gc, and it frees garbage', () => {
    const r = JSON.parse(run(quiet, [], true)) as { kind: string; freedMb: number };
    expect(r.kind).toBe('function');
    expect(r.freedMb).toBeGreaterThan(5);
  });
});
