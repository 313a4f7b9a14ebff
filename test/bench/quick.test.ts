// `npm run bench -- --quick` runs end to end (simulator, bare proxy, Tollgate on real Postgres and Redis) and every
// figure it reports is a number: the harness cannot rot. Speeds are not asserted (the machine is shared).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Results } from '../../bench/report.js';

function runQuick(json: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    // Portkey is left out: CI may have no registry access, and its absence must not fail the suite.
    execFile(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--no-portkey', '--no-build', `--json=${json}`], { timeout: 170_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: `${stdout}\n${stderr}` });
    });
  });
}

describe('npm run bench -- --quick', () => {
  it('measures direct, the bare proxy and Tollgate, and every figure is a number', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-quick-'));
    try {
      const json = join(dir, 'results.json');
      const { code, out } = await runQuick(json);
      expect(code, out).toBe(0);
      const res = JSON.parse(readFileSync(json, 'utf8')) as Results;
      expect(res.ran).toEqual(['direct', 'proxy', 'tollgate']);
      expect(res.skipped.portkey).toMatch(/no-portkey/);
      expect(res.rows.length).toBeGreaterThanOrEqual(20);
      const missing: string[] = [];
      for (const row of res.rows) {
        for (const t of row.applies) {
          if (!res.ran.includes(t)) continue;
          const v = row.values[t];
          if (typeof v !== 'number' || !Number.isFinite(v)) missing.push(`${row.label} / ${t}: ${String(v)}`);
        }
      }
      expect(missing, out).toEqual([]);
      // The printed table carries every row, and the results name the commit and the machine.
      for (const row of res.rows) expect(out).toContain(row.label);
      expect(res.commit).toMatch(/^[0-9a-f]{7,}/);
      expect(res.machine.nproc).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
