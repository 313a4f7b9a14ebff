// Summary of a V8 .cpuprofile: self time per function (and per file), highest first, as plain text.
// Also runnable: `npx tsx bench/profile.ts FILE.cpuprofile [N]`.
import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** The parts of a V8 .cpuprofile the summary and the flame graph (bench/flamegraph.ts) read. */
export const profileSchema = z.object({
  nodes: z.array(
    z.object({
      id: z.number(),
      callFrame: z.object({ functionName: z.string(), url: z.string(), lineNumber: z.number() }),
      children: z.array(z.number()).optional(),
    }),
  ),
  samples: z.array(z.number()),
  timeDeltas: z.array(z.number()),
});

/** A frame's file, short: from node_modules/, build/ or src/ on; node: and native frames as they are. */
export function shortUrl(url: string): string {
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + 1);
  for (const dir of ['/build/', '/src/']) {
    const i = url.lastIndexOf(dir);
    if (i >= 0) return url.slice(i + 1);
  }
  return url.replace(/^file:\/\//, '') || '(native)';
}

export function summariseProfile(file: string, top: number): string {
  const p = profileSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Module loading (start-up, tsx compiling the TypeScript) is not per-request work: counted apart.
  const loading = (id: number): boolean => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      if (byId.get(cur)?.callFrame.url.startsWith('node:internal/modules/')) return true;
    }
    return false;
  };
  let loadingUs = 0;
  let idleUs = 0;
  const selfUs = new Map<string, number>();
  const fileUs = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const n = byId.get(id);
    const dt = p.timeDeltas[i] ?? 0;
    if (!n) return;
    const f = n.callFrame;
    if (f.functionName === '(idle)') {
      idleUs += dt;
      return;
    }
    if (loading(id)) {
      loadingUs += dt;
      return;
    }
    total += dt;
    const where = shortUrl(f.url);
    const key = `${f.functionName || '(anonymous)'}  ${where}:${f.lineNumber + 1}`;
    selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
    const group = where.startsWith('node_modules/') ? where.split('/').slice(0, where.startsWith('node_modules/@') ? 3 : 2).join('/') : where;
    fileUs.set(group, (fileUs.get(group) ?? 0) + dt);
  });
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
  const lines = [
    `profile ${file}: ${(total / 1e6).toFixed(1)} s busy (left out: ${(idleUs / 1e6).toFixed(1)} s idle, ${(loadingUs / 1e6).toFixed(1)} s module loading)`,
    '',
    `top ${top} functions by self time (% of busy):`,
  ];
  for (const [k, v] of [...selfUs].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`${pct(v)}  ${k}`);
  lines.push('', 'self time by file / package:');
  for (const [k, v] of [...fileUs].sort((a, b) => b[1] - a[1]).slice(0, 30)) lines.push(`${pct(v)}  ${k}`);
  return lines.join('\n');
}

if (process.argv[1]?.endsWith('profile.ts') && process.argv[2]) {
  process.stdout.write(`${summariseProfile(process.argv[2], Number(process.argv[3] ?? 40))}\n`);
}
