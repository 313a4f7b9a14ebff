// src/heap-tuning.ts (imported first by main.ts): the V8 flag set at run time must take effect on this Node, and an
// operator's own --heap-growing-percent must win. Measured on a workload that keeps ~25 MB live and promotes garbage
// quickly, where V8's own factor runs high: its peak heap is ~190–230 MB untuned, ~115 MB tuned.
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

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

function peakHeapMb(nodeArgs: string[], tune: boolean): number {
  const out = execFileSync(process.execPath, [...nodeArgs, '--input-type=module', '-e', churn], {
    env: { PATH: process.env.PATH, ...(tune ? { TUNE: tuning } : {}) },
    encoding: 'utf8',
  });
  return Number(out.split(' ')[0]);
}

describe('heap tuning', () => {
  it('caps the old generation swing, and yields to an explicit --heap-growing-percent', () => {
    const untuned = peakHeapMb([], false);
    const tuned = peakHeapMb([], true);
    const operator = peakHeapMb(['--heap-growing-percent=300'], true);
    expect(tuned).toBeLessThan(untuned * 0.8);
    expect(operator).toBeGreaterThan(tuned * 1.2);
  }, 60_000);
});
