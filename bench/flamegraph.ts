// A flame graph (self-contained SVG, no script) of a V8 .cpuprofile: one box per call path, as wide as the time spent
// in it and in its callees, the root at the bottom; hover a box for its function, file, time and share. Written by
// `npm run bench -- --profile` next to the text summary; also runnable:
// `npx tsx bench/flamegraph.ts FILE.cpuprofile > flame.svg`.
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { profileSchema, shortUrl } from './profile.js';

export type CpuProfile = z.infer<typeof profileSchema>;

/** A call path: frames with the same function, file and line under the same parent are merged. */
export interface Frame {
  name: string;
  where: string;
  /** Microseconds in this frame itself. */
  selfUs: number;
  /** Microseconds in this frame and everything it called. */
  totalUs: number;
  children: Frame[];
}

/** Merged call tree; idle time is left out (it is not work), everything else, the collector included, is kept. */
export function callTree(p: CpuProfile): Frame {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  p.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, p.timeDeltas[i] ?? 0)));
  const referenced = new Set(p.nodes.flatMap((n) => n.children ?? []));
  const roots = p.nodes.filter((n) => !referenced.has(n.id));

  const root: Frame = { name: 'all', where: '', selfUs: 0, totalUs: 0, children: [] };
  const place = (nodeId: number, parent: Frame): void => {
    const n = byId.get(nodeId);
    if (!n || n.callFrame.functionName === '(idle)') return;
    const name = n.callFrame.functionName || '(anonymous)';
    const where = n.callFrame.url ? `${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}` : '';
    let f = parent.children.find((c) => c.name === name && c.where === where);
    if (!f) parent.children.push((f = { name, where, selfUs: 0, totalUs: 0, children: [] }));
    f.selfUs += selfUs.get(nodeId) ?? 0;
    for (const c of n.children ?? []) place(c, f);
  };
  // V8's own root is "(root)": its children are the real roots.
  for (const r of roots) for (const c of r.callFrame.functionName === '(root)' ? (r.children ?? []) : [r.id]) place(c, root);
  const total = (f: Frame): number => (f.totalUs = f.selfUs + f.children.reduce((s, c) => s + total(c), 0));
  total(root);
  return root;
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Warm for our code, cool for dependencies, grey for Node's internals, red for the engine (GC, native). */
function colour(f: Frame): string {
  let h = 0;
  for (const ch of f.name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  const v = h % 30;
  if (f.where.startsWith('build/') || f.where.startsWith('src/')) return `hsl(${25 + v},85%,${58 + (h % 10)}%)`;
  if (f.where.startsWith('node_modules/')) return `hsl(${195 + v},60%,${62 + (h % 10)}%)`;
  if (f.where.startsWith('node:')) return `hsl(0,0%,${70 + (h % 12)}%)`;
  return `hsl(${355 + (v % 10)},70%,${62 + (h % 10)}%)`;
}

export interface FlameOptions {
  title: string;
  width?: number;
  /** Boxes narrower than this many pixels are left out (their time stays in the parent's width). */
  minWidthPx?: number;
}

export function flameGraphSvg(root: Frame, o: FlameOptions): string {
  const width = o.width ?? 1600;
  const minPx = o.minWidthPx ?? 0.3;
  const rowH = 17;
  const pad = 10;
  const scale = root.totalUs > 0 ? (width - 2 * pad) / root.totalUs : 0;
  const boxes: Array<{ f: Frame; x: number; depth: number; w: number }> = [];
  let maxDepth = 0;
  const lay = (f: Frame, x: number, depth: number): void => {
    const w = f.totalUs * scale;
    if (w < minPx) return;
    boxes.push({ f, x, depth, w });
    maxDepth = Math.max(maxDepth, depth);
    let cx = x;
    for (const c of [...f.children].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      lay(c, cx, depth + 1);
      cx += c.totalUs * scale;
    }
  };
  lay(root, pad, 0);
  const top = 40;
  const height = top + (maxDepth + 1) * rowH + pad;
  const y = (depth: number) => height - pad - (depth + 1) * rowH;
  const ms = (us: number) => (us / 1000).toFixed(1);
  const rects = boxes.map(({ f, x, depth, w }) => {
    const share = root.totalUs > 0 ? ((100 * f.totalUs) / root.totalUs).toFixed(2) : '0';
    const label = `${f.name}${f.where ? ` (${f.where})` : ''}: ${ms(f.totalUs)} ms, ${share}% (self ${ms(f.selfUs)} ms)`;
    const chars = Math.floor((w - 6) / 6.6);
    const text = chars >= 3 ? (f.name.length > chars ? `${f.name.slice(0, chars - 2)}..` : f.name) : '';
    return (
      `<g><title>${escapeXml(label)}</title>` +
      `<rect x="${x.toFixed(2)}" y="${y(depth)}" width="${w.toFixed(2)}" height="${rowH - 1}" rx="2" fill="${f === root ? '#ddd' : colour(f)}"/>` +
      (text ? `<text x="${(x + 3).toFixed(2)}" y="${y(depth) + 12}">${escapeXml(text)}</text>` : '') +
      `</g>`
    );
  });
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Verdana, sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="#fafafa"/>`,
    `<text x="${pad}" y="20" font-size="15">${escapeXml(o.title)}</text>`,
    `<text x="${pad}" y="34" fill="#555">${ms(root.totalUs)} ms of samples (idle left out). Orange: Tollgate; blue: dependencies; grey: Node internals; red: engine (GC, native). Hover a box for its time.</text>`,
    ...rects,
    `</svg>`,
    '',
  ].join('\n');
}

export function flameGraphOfFile(file: string, title: string): string {
  return flameGraphSvg(callTree(profileSchema.parse(JSON.parse(readFileSync(file, 'utf8')))), { title });
}

if (process.argv[1]?.endsWith('flamegraph.ts') && process.argv[2]) {
  process.stdout.write(flameGraphOfFile(process.argv[2], `CPU profile ${process.argv[2]}`));
}
