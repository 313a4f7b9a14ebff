// The bench's flame graph: a .cpuprofile's call paths merged, timed and drawn to scale, idle time left out.
import { describe, expect, it } from 'vitest';
import { callTree, flameGraphSvg, type CpuProfile } from '../../bench/flamegraph.js';

const frame = (id: number, functionName: string, url: string, children: number[] = []) => ({
  id,
  callFrame: { functionName, url, lineNumber: id },
  children,
});

// (root) → main → handle → parse        (handle appears twice under main at the same line: merged)
//                 → handle' → parse
//        → (garbage collector)
//        → (idle)
const profile: CpuProfile = {
  nodes: [
    frame(1, '(root)', '', [2, 6, 7]),
    frame(2, 'main', 'file:///work/main/build/main.js', [3, 4]),
    { ...frame(3, 'handle', 'file:///work/main/build/gateway/chat.js', [5]), callFrame: { functionName: 'handle', url: 'file:///work/main/build/gateway/chat.js', lineNumber: 9 } },
    { ...frame(4, 'handle', 'file:///work/main/build/gateway/chat.js', [8]), callFrame: { functionName: 'handle', url: 'file:///work/main/build/gateway/chat.js', lineNumber: 9 } },
    frame(5, 'parse<T>', 'file:///work/main/node_modules/zod/index.js'),
    frame(6, '(garbage collector)', ''),
    frame(7, '(idle)', ''),
    { ...frame(8, 'parse<T>', 'file:///work/main/node_modules/zod/index.js'), callFrame: { functionName: 'parse<T>', url: 'file:///work/main/node_modules/zod/index.js', lineNumber: 5 } },
  ],
  // Each sample's time is the delta that follows it.
  samples: [2, 3, 5, 4, 8, 6, 7, 5],
  timeDeltas: [100, 200, 300, 100, 300, 1000, 5000, 0],
};

describe('bench flame graph', () => {
  const root = callTree(profile);

  it('merges the same frame under the same parent and sums self and total time, idle left out', () => {
    expect(root.totalUs).toBe(2000);
    const main = root.children.find((f) => f.name === 'main');
    expect(main).toMatchObject({ selfUs: 100, totalUs: 1000, where: 'build/main.js:3' });
    expect(main?.children).toHaveLength(1);
    const handle = main?.children[0];
    expect(handle).toMatchObject({ name: 'handle', selfUs: 300, totalUs: 900 });
    expect(handle?.children).toEqual([expect.objectContaining({ name: 'parse<T>', selfUs: 600, totalUs: 600, where: 'node_modules/zod/index.js:6' })]);
    expect(root.children.find((f) => f.name === '(garbage collector)')?.totalUs).toBe(1000);
    expect(root.children.some((f) => f.name === '(idle)')).toBe(false);
  });

  it('draws every box to scale, escapes names, and leaves out boxes below the minimum width', () => {
    const svg = flameGraphSvg(root, { title: 'a <test>', width: 1020, minWidthPx: 0.3 });
    // 1000 px of drawing width for 2000 µs: 0.5 px per µs.
    const width = (name: string) => Number(new RegExp(`<title>${name}[^<]*</title><rect [^>]*width="([0-9.]+)"`).exec(svg)?.[1]);
    expect(width('all')).toBeCloseTo(1000, 5);
    expect(width('main')).toBeCloseTo(500, 5);
    expect(width('handle')).toBeCloseTo(450, 5);
    expect(width('parse&lt;T&gt;')).toBeCloseTo(300, 5);
    expect(svg).toContain('a &lt;test&gt;');
    expect(svg).not.toContain('<test>');
    expect(svg).toContain('parse&lt;T&gt; (node_modules/zod/index.js:6): 0.6 ms, 30.00% (self 0.6 ms)');
    // At 0.1 px per µs main is 100 px wide and handle 90: a 95 px minimum keeps main and leaves handle out.
    const narrow = flameGraphSvg(root, { title: 't', width: 220, minWidthPx: 95 });
    expect(narrow).toContain('<title>main ');
    expect(narrow).not.toContain('<title>handle ');
  });
});
