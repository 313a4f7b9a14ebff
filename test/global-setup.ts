// Runs once before the suite: builds src/ into build/ as `npm start` does, so that the process tests (test/support/
// process.ts, test/faults) run the very JavaScript a deployment runs, never a stale build.
import { execFileSync } from 'node:child_process';

export default function setup(): void {
  execFileSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
}
