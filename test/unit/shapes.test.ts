// Request-path objects keep one V8 map (hidden class) from request to request, with fast properties. A map per object
// is old-generation garbage on every request: a getter in the upstream answer's object literal once raised the bytes
// promoted per request from 2.3 to 9.4 KB and the scavenges' median pause from 1.1 to 3.2 ms (docs/performance.md).
// V8's own checks (%HaveSameMap, %HasFastProperties) need --allow-natives-syntax: they run in a child process.
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const probe = fileURLToPath(new URL('../support/shapes-probe.ts', import.meta.url));

describe('request-path object shapes', () => {
  it('upstream answers (whole and streamed), their headers and the served headers share a map per kind and stay fast', () => {
    const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', probe], { encoding: 'utf8', timeout: 60_000 });
    const shapes = JSON.parse(out) as Record<string, { sameMap: boolean; fast: boolean }>;
    expect(Object.keys(shapes).sort()).toEqual(['servedHeaders', 'streamAnswer', 'wholeAnswer', 'wholeAnswerHeaders']);
    for (const [kind, s] of Object.entries(shapes)) expect({ kind, ...s }).toEqual({ kind, sameMap: true, fast: true });
  });
});
