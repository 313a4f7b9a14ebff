// Where a serving process's allocations come from: reads a sampling heap profile written by bench/alloc-sampler.mjs
// (`alloc-PID.heapprofile`, kept in the bench's log directory with --profile) and prints the bytes by allocating
// function and by the nearest frame of Tollgate's own code (build/), per request when told how many were served.
// Usage: npx tsx bench/alloc-profile.ts FILE [requests] [rows]
import { readFileSync } from 'node:fs';

interface Frame { functionName: string; url: string; lineNumber: number }
interface Node { callFrame: Frame; selfSize: number; id: number; children: Node[] }

const [file, reqArg, rowsArg] = process.argv.slice(2);
if (!file) throw new Error('usage: npx tsx bench/alloc-profile.ts FILE [requests] [rows]');
const profile = JSON.parse(readFileSync(file, 'utf8')) as { head: Node; samples: { size: number; nodeId: number }[] };
const requests = Number(reqArg ?? 1);
const rows = Number(rowsArg ?? 40);

const name = (f: Frame) => `${f.functionName || '(anonymous)'} ${f.url.replace(/.*\/(build|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
const own = (f: Frame) => f.url.includes('/build/');

const bySelf = new Map<string, number>();
const byOwn = new Map<string, number>();
const sizeOf = new Map<number, number>();
for (const s of profile.samples) sizeOf.set(s.nodeId, (sizeOf.get(s.nodeId) ?? 0) + s.size);
let total = 0;
function walk(n: Node, nearestOwn: string): void {
  const here = own(n.callFrame) ? name(n.callFrame) : nearestOwn;
  const bytes = sizeOf.get(n.id) ?? 0;
  if (bytes > 0) {
    total += bytes;
    bySelf.set(name(n.callFrame), (bySelf.get(name(n.callFrame)) ?? 0) + bytes);
    byOwn.set(here, (byOwn.get(here) ?? 0) + bytes);
  }
  for (const c of n.children) walk(c, here);
}
walk(profile.head, '(no frame of ours)');

const kib = (b: number) => (b / 1024 / requests).toFixed(2).padStart(8);
console.log(`${kib(total)} KiB${requests > 1 ? ' per request' : ''} in all`);
for (const [title, m] of [['by allocating function', bySelf], ['by nearest frame of ours', byOwn]] as const) {
  console.log(`\n${title}:`);
  for (const [k, b] of [...m].sort((a, z) => z[1] - a[1]).slice(0, rows)) console.log(`${kib(b)}  ${k}`);
}
