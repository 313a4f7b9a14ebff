// promtool (Debian `prometheus` package) checks the Prometheus config, the alert rules (syntax and unit tests) and our exposition.
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/metrics.js';
import { createMetricsRoute } from '../../src/metrics/route.js';
import { prng, randomEvent } from './support.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

function promtool(args: string[], input?: string): { status: number | null; out: string } {
  const r = spawnSync('promtool', args, { cwd: root, input, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool is required (apt-get install -y prometheus): ${r.error.message}`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('promtool', () => {
  it('is installed', () => {
    expect(execFileSync('promtool', ['--version'], { encoding: 'utf8' })).toMatch(/promtool, version/);
  });

  it('accepts config/prometheus.yml', () => {
    const r = promtool(['check', 'config', 'config/prometheus.yml']);
    expect(r.out).toContain('SUCCESS');
    expect(r.status, r.out).toBe(0);
  });

  it('accepts config/alerts.yml', () => {
    const r = promtool(['check', 'rules', 'config/alerts.yml']);
    expect(r.status, r.out).toBe(0);
  });

  it('fires each alert on bad series and not on good ones (promtool test rules)', () => {
    const r = promtool(['test', 'rules', 'test/observability/alerts.promtool.yml']);
    expect(r.status, r.out).toBe(0);
  });

  it('passes `check metrics` on a scrape after recording events of every kind', async () => {
    const metrics = createMetrics({ maxTenantLabels: 10, knownModels: new Set(['gpt-4o-mini', 'gpt-4.1', 'deepseek-flash', 'deepseek-v4-pro', 'gemini-2.5-flash']) });
    const rand = prng(3);
    for (let i = 0; i < 50; i++) metrics.recordRequest(randomEvent(rand, i, 'x'), `tenant-${i % 4}`);
    metrics.observeOverhead(0.0003);
    metrics.upstreamError('deepseek', 'timeout');
    metrics.fallback('deepseek-flash', 'gpt-4o-mini');
    metrics.rateLimited('tenant-1', 'requests');
    metrics.refusedAhead('tokens');
    metrics.limiterAdmission('waited');
    metrics.cacheRequest('tenant-1', 'hit');
    metrics.setBudget('tenant-1', 'month', 100_000_000_000_000n, 1_234_567_890_123n);
    metrics.setLedgerStats({ queued: 4, spooled: 0 });
    metrics.setRedisUp(true);
    metrics.setCircuit('openai', 'gpt-4.1', false);
    const res = await createMetricsRoute({ metrics }).request('/metrics');
    const text = await res.text();
    expect(text).toContain('tollgate_cost_usd_total{');
    const r = promtool(['check', 'metrics'], text);
    expect(r.status, r.out).toBe(0);
  });

  it('would reject a badly named metric (the check is not vacuous)', () => {
    const r = promtool(['check', 'metrics'], '# HELP bad_total x\n# TYPE bad_total gauge\nbad_total 1\n');
    expect(r.status).not.toBe(0);
  });
});
