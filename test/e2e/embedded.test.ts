// `npm start` on embedded defaults, as a real process: no DATABASE_URL (PGlite in the data dir), no REDIS_URL
// (in-process limits, said once in the log), a generated admin token — and a metered request through the simulator.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { spawnGateway, type GatewayProcess } from '../support/process.js';

let sim: Simulator;
let gw: GatewayProcess;
let dataDir: string;

beforeAll(async () => {
  sim = await startSimulator();
  dataDir = mkdtempSync(join(tmpdir(), 'tollgate-embedded-'));
  gw = await spawnGateway(
    {
      TOLLGATE_DATA_DIR: dataDir,
      OPENAI_API_KEY: 'sk-sim-openai',
      OPENAI_BASE_URL: sim.baseUrls.openai,
    },
    { startTimeoutMs: 150_000 },
  );
}, 180_000);
afterAll(async () => {
  await gw?.stop();
  await sim?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('embedded defaults', () => {
  it('serves, meters into PGlite, and keeps the generated admin token in the data dir', async () => {
    const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    expect(token).toMatch(/^tga_/);
    expect(gw.output()).toContain(token); // printed once at first start
    expect(gw.output()).toMatch(/in-process \(one instance only\)/);
    expect(gw.output()).toMatch(/DEEPSEEK_API_KEY is not set/);
    const admin = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

    const tenant = (await (await fetch(`${gw.url}/admin/tenants`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'solo' }) })).json()) as { id: string };
    const key = (await (await fetch(`${gw.url}/admin/tenants/${tenant.id}/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'k' }) })).json()) as { key: string };
    const client = new OpenAI({ baseURL: gw.baseURL, apiKey: key.key, maxRetries: 0 });
    const r = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] }).withResponse();
    const cost = r.response.headers.get('x-tollgate-cost-usd');
    expect(Number(cost)).toBeGreaterThan(0);

    const readyz = await (await fetch(`${gw.url}/readyz`)).json();
    expect(readyz).toMatchObject({ status: 'ready' });

    await expect
      .poll(async () => {
        const spend = (await (await fetch(`${gw.url}/v1/spend?group_by=model`, { headers: { authorization: `Bearer ${key.key}` } })).json()) as { totals: { cost_usd: string; requests: number } };
        return spend.totals;
      }, { timeout: 10_000 })
      .toMatchObject({ requests: 1, cost_usd: cost });
  });

  it('shuts down cleanly on SIGTERM', async () => {
    expect(await gw.stop('SIGTERM')).toBe(0);
  });
});
