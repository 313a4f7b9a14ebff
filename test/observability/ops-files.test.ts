// The operations files hang together: compose services and env, Dockerfile inputs, Grafana queries valid PromQL on our metrics.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { envSchema } from '../../src/config/schema.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { parseExposition } from './support.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (p: string) => readFileSync(join(root, p), 'utf8');

interface ComposeService {
  build?: unknown;
  image?: string;
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, unknown> | string[];
  ports?: string[];
}
interface Compose {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Every PromQL `expr` in a Grafana dashboard, panels nested in rows included. */
function dashboardExprs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) dashboardExprs(n, out);
  else if (isRecord(node)) {
    if (typeof node.expr === 'string') out.push(node.expr);
    for (const v of Object.values(node)) dashboardExprs(v, out);
  }
  return out;
}

/** Names of our series used in PromQL, reduced to the metric family (histogram suffixes dropped). */
function tollgateFamilies(exprs: string[]): Set<string> {
  const names = new Set<string>();
  for (const e of exprs) for (const m of e.matchAll(/\btollgate_[a-z0-9_]+/g)) names.add(m[0].replace(/_(bucket|sum|count)$/, ''));
  return names;
}

async function exportedFamilies(): Promise<Set<string>> {
  const metrics = createMetrics({ maxTenantLabels: 5 });
  const text = await metrics.metricsText();
  const fams = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) /gm)) fams.add(m[1]);
  expect(parseExposition(text).length).toBeGreaterThan(0);
  return fams;
}

describe('docker-compose.yml', () => {
  const compose = parseYaml(read('docker-compose.yml'), { merge: true }) as Compose;

  it('brings up gateway, Postgres, Redis, Prometheus and Grafana, the gateway built from the Dockerfile', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['gateway', 'grafana', 'postgres', 'prometheus', 'redis']);
    expect(compose.services.gateway.build).toBe('.');
    const deps = compose.services.gateway.depends_on;
    expect(isRecord(deps) ? Object.keys(deps).sort() : deps).toEqual(['postgres', 'redis']);
  });

  it('passes the gateway only variables its config knows, pointing at the compose services', () => {
    const env = compose.services.gateway.environment ?? {};
    const known = new Set(Object.keys(envSchema.shape));
    for (const k of Object.keys(env)) expect(known.has(k), k).toBe(true);
    expect(env.DATABASE_URL).toMatch(/@postgres:5432\//);
    expect(env.REDIS_URL).toBe('redis://redis:6379');
  });

  it('mounts files that exist and volumes that are declared', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const v of svc.volumes ?? []) {
        const src = v.split(':')[0];
        if (src.startsWith('./')) expect(existsSync(join(root, src)), `${name}: ${src}`).toBe(true);
        else expect(Object.keys(compose.volumes), `${name}: ${src}`).toContain(src);
      }
    }
  });
});

describe('Dockerfile', () => {
  const text = read('Dockerfile');
  it('builds on node:20-slim with npm ci and runs the gateway with node directly (signals reach it)', () => {
    expect(text).toMatch(/^FROM node:20-slim$/m);
    expect(text).toMatch(/^RUN npm ci\b/m);
    expect(text).toMatch(/^RUN node scripts\/build.mjs$/m);
    expect(text).toMatch(/^CMD \["node", "build\/main.js"\]$/m);
  });
  it('copies only paths that exist, and never node_modules', () => {
    for (const m of text.matchAll(/^COPY (.+) \S+$/gm)) for (const p of m[1].split(/\s+/)) expect(existsSync(join(root, p)), p).toBe(true);
    expect(read('.dockerignore').split('\n')).toContain('node_modules');
  });
});

describe('Grafana and alert queries', () => {
  const dashboard: unknown = JSON.parse(read('config/grafana/dashboards/tollgate.json'));
  const exprs = dashboardExprs(dashboard);

  it('provisions the datasource uid the dashboard uses', () => {
    const ds = parseYaml(read('config/grafana/provisioning/datasources/prometheus.yml')) as { datasources: Array<{ uid: string; url: string }> };
    expect(read('config/grafana/dashboards/tollgate.json')).toContain(`"value": "${ds.datasources[0].uid}"`);
    expect(ds.datasources[0].url).toBe('http://prometheus:9090');
    const prov = parseYaml(read('config/grafana/provisioning/dashboards/tollgate.yml')) as { providers: Array<{ options: { path: string } }> };
    expect(read('docker-compose.yml')).toContain(`./config/grafana/dashboards:${prov.providers[0].options.path}:ro`);
  });

  it('uses only metrics the gateway exports (dashboard and alert rules)', async () => {
    const exported = await exportedFamilies();
    const alerts = parseYaml(read('config/alerts.yml')) as { groups: Array<{ rules: Array<{ expr: string }> }> };
    const used = tollgateFamilies([...exprs, ...alerts.groups.flatMap((g) => g.rules.map((r) => r.expr))]);
    expect(used.size).toBeGreaterThan(15);
    for (const name of used) expect(exported.has(name), name).toBe(true);
  });

  it('has dashboard queries that are valid PromQL (promtool parses them as recording rules)', () => {
    expect(exprs.length).toBeGreaterThan(20);
    const rules = exprs.map((e, i) => ({
      record: `dashboard:query_${i}`,
      expr: e.replaceAll('$__rate_interval', '5m').replaceAll('$__range', '1h').replaceAll('$tenant', '.*'),
    }));
    const dir = mkdtempSync(join(tmpdir(), 'tollgate-grafana-'));
    try {
      const file = join(dir, 'queries.yml');
      writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules }] }));
      const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
      if (r.error) throw new Error(`promtool is required (apt-get install -y prometheus): ${r.error.message}`);
      expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
