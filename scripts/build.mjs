// `npm run build` (and before `npm start`): src/**/*.ts → build/**/*.js, one file each (esbuild, well under a second),
// plus the dashboard's static files. The gateway then runs on plain node: no tsx loader thread (~35 MB of RSS) and
// no TypeScript compiled at start. Type checking stays with `npm run typecheck`; esbuild only strips types.
import { build } from 'esbuild';
import { cpSync, readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');
const out = join(root, 'build');

function tsFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return tsFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

rmSync(out, { recursive: true, force: true });
const entryPoints = tsFiles(src);
await build({ entryPoints, outdir: out, outbase: src, format: 'esm', platform: 'node', target: 'node20', logLevel: 'warning' });
// Files read at run time next to their module (new URL('./static/', import.meta.url)).
for (const dir of ['dashboard/static', 'dashboard/vendor']) cpSync(join(src, dir), join(out, dir), { recursive: true });
process.stdout.write(`built ${entryPoints.length} modules into ${relative(process.cwd(), out) || '.'}/\n`);
