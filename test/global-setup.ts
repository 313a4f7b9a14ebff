// Runs once before the suite: builds src/ into build/ as `npm start` does, so that the process tests (test/support/
// process.ts, test/faults) run the very JavaScript a deployment runs, never a stale build.
import { buildGateway } from './support/process.js';

export default function setup(): void {
  buildGateway();
}
