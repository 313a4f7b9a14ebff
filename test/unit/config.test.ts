import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.js';
import { fileConfigSchema } from '../../src/config/schema.js';

function tmpConfig(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tg-config-'));
  const p = join(dir, 'tollgate.yaml');
  writeFileSync(p, `catalog: ${join(process.cwd(), 'config/models.yaml')}\n${yaml}`);
  return p;
}

describe('config', () => {
  it('loads the shipped defaults', () => {
    const c = loadConfig({ env: {} });
    expect(c.env.PORT).toBe(8787);
    expect(c.env.HOST).toBe('0.0.0.0');
    expect(c.env.TOLLGATE_DATA_DIR).toBe('./data');
    expect(c.file.server.body_limit_bytes).toBe(10 * 1024 * 1024);
    expect(Object.isFrozen(c.file)).toBe(true);
  });

  it('fails at boot with the path and reason of a bad env value', () => {
    expect(() => loadConfig({ env: { PORT: 'eighty' } })).toThrow(/environment: PORT: /);
    expect(() => loadConfig({ env: { OPENAI_BASE_URL: 'not a url' } })).toThrow(ConfigError);
  });

  it('fails with the file, path and reason of a bad YAML value', () => {
    const p = tmpConfig('server:\n  body_limit_bytes: -5\n');
    expect(() => loadConfig({ env: { TOLLGATE_CONFIG: p } })).toThrow(/tollgate\.yaml: server\.body_limit_bytes: /);
    const q = tmpConfig('default_policy:\n  routes:\n    auto: { strategy: fastest }\n');
    expect(() => loadConfig({ env: { TOLLGATE_CONFIG: q } })).toThrow(/default_policy\.routes\.auto\.strategy/);
  });

  it('substitutes ${VAR} and fails on a missing one with its line', () => {
    const p = tmpConfig('# ${IGNORED_IN_COMMENTS}\nserver:\n  body_limit_bytes: ${TG_LIMIT}\n  max_messages: ${TG_MAX:-7}\n');
    const c = loadConfig({ env: { TOLLGATE_CONFIG: p, TG_LIMIT: '1234' } });
    expect(c.file.server.body_limit_bytes).toBe(1234);
    expect(c.file.server.max_messages).toBe(7);
    expect(() => loadConfig({ env: { TOLLGATE_CONFIG: p } })).toThrow(/tollgate\.yaml:4: environment variable TG_LIMIT is required/);
  });

  it('a block left out gets its fields\' defaults: the same as the block given empty, no second copy of them', () => {
    const all = fileConfigSchema.parse({});
    const blocks = Object.entries(all).filter(([, v]) => v !== null && typeof v === 'object' && !Array.isArray(v));
    expect(blocks.map(([k]) => k)).toEqual(expect.arrayContaining(['server', 'upstream', 'limits', 'ledger', 'circuit', 'metrics']));
    for (const [k, v] of blocks) expect(fileConfigSchema.parse({ [k]: {} })[k as keyof typeof all], k).toEqual(v);
    // A field set inside a block keeps the others' defaults.
    expect(fileConfigSchema.parse({ limits: { admit_ahead_headroom: 0 } }).limits).toEqual({ ...all.limits, admit_ahead_headroom: 0 });
  });

  it('an explicitly named config file must exist', () => {
    expect(() => loadConfig({ env: { TOLLGATE_CONFIG: '/nonexistent/tollgate.yaml' } })).toThrow(/cannot read/);
  });
});
