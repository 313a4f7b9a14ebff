#!/usr/bin/env node
// `npx tollgate …`: the operator CLI, run from its TypeScript source through tsx (no build step).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
