// The gateway runs with the same node options wherever it is started: npm start, npm run demo, the Docker image, and
// the processes the tests and the bench start (GATEWAY_NODE_FLAGS), so what is measured is what users run.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GATEWAY_NODE_FLAGS } from '../support/process.js';

const root = new URL('../../', import.meta.url);
const pkg = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> };
const dockerfile = readFileSync(new URL('Dockerfile', root), 'utf8');

describe('node options of the gateway process', () => {
  it('npm start and npm run demo run node with GATEWAY_NODE_FLAGS', () => {
    expect(pkg.scripts.start).toBe(['node', ...GATEWAY_NODE_FLAGS, 'build/main.js'].join(' '));
    expect(pkg.scripts.demo).toBe(['node', ...GATEWAY_NODE_FLAGS, 'build/demo.js'].join(' '));
  });

  it('the Docker image runs node with the same options', () => {
    const cmd = /^CMD (\[.*\])$/m.exec(dockerfile)?.[1];
    expect(cmd && JSON.parse(cmd)).toEqual(['node', ...GATEWAY_NODE_FLAGS, 'build/main.js']);
  });

  it('the options take effect: the young generation starts at its full size', async () => {
    const { execFileSync } = await import('node:child_process');
    const size = (flags: readonly string[]) =>
      Number(execFileSync(process.execPath, [...flags, '-p', "require('v8').getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size"], { encoding: 'utf8' }));
    expect(size(GATEWAY_NODE_FLAGS)).toBeGreaterThanOrEqual(16 * 1024 * 1024);
    expect(size([])).toBeLessThan(size(GATEWAY_NODE_FLAGS));
  });
});
