// `npm run demo`: the gateway with the simulator as OpenAI, DeepSeek and Gemini, two seeded tenants, a little traffic,
// and a summary of what happened. Offline; keeps serving until Ctrl-C (or exits with --once).
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { loadConfig } from './config/index.js';
import { createLogger } from './logger.js';
import { buildDeps } from './deps-factory.js';
import { createApp } from './app.js';
import { startSimulator } from './simulator/index.js';
import { policySchema, type PolicyInput } from './routing/policy.js';
import { picoToUsd } from './metering/money.js';
import type { Store, Tenant } from './store/interface.js';

const once = process.argv.includes('--once');

async function tenantWithKey(store: Store, name: string, policy: PolicyInput): Promise<{ tenant: Tenant; key: string }> {
  const existing = (await store.listTenants()).find((t) => t.name === name);
  const tenant = existing ?? (await store.createTenant({ name, policy: policySchema.parse(policy) }));
  if (existing) await store.putPolicy(tenant.id, policySchema.parse(policy));
  const created = await store.createKey(tenant.id, `demo-${new Date().toISOString().slice(0, 19)}`);
  if (!created) throw new Error(`could not create a key for ${name}`);
  return { tenant, key: created.secret };
}

async function traffic(baseURL: string, key: string, n: number): Promise<number> {
  const models = ['auto', 'cheap', 'smart', 'gpt-4o-mini', 'deepseek-flash', 'gemini-2.5-flash-lite'];
  const system = 'You are the support assistant of a bicycle shop. '.repeat(80); // a long shared prefix: prompt caching
  let ok = 0;
  for (let i = 0; i < n; i++) {
    const model = models[i % models.length];
    const stream = i % 3 === 0;
    const res = await fetch(`${baseURL}/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model,
        stream,
        stream_options: stream ? { include_usage: true } : undefined,
        max_tokens: 120,
        messages: [
          { role: 'system', content: system },
          { role: 'user', content: `Question ${i}: which tyre pressure for a ${20 + (i % 9)} inch wheel?` },
        ],
      }),
    });
    await res.text();
    if (res.ok) ok++;
  }
  const emb = await fetch(`${baseURL}/embeddings`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'text-embedding-3-small', input: ['tyres', 'brakes', 'chains'] }),
  });
  if (emb.ok) ok++;
  await emb.text();
  return ok;
}

async function main(): Promise<void> {
  const sim = await startSimulator({ ttftMs: 40, chunkDelayMs: 5 });
  const dataDir = process.env.TOLLGATE_DATA_DIR ?? join('data', 'demo');
  const config = loadConfig({
    env: {
      ...process.env,
      TOLLGATE_DATA_DIR: dataDir,
      OPENAI_API_KEY: 'sk-sim-openai',
      DEEPSEEK_API_KEY: 'sk-sim-deepseek',
      GEMINI_API_KEY: 'sim-gemini-key',
      OPENAI_BASE_URL: sim.baseUrls.openai,
      DEEPSEEK_BASE_URL: sim.baseUrls.deepseek,
      GEMINI_BASE_URL: sim.baseUrls.gemini,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    },
  });
  const logger = createLogger(config.env.LOG_LEVEL);
  const built = await buildDeps(config, logger);
  const app = createApp(built.deps);
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.env.PORT, hostname: config.env.HOST }, () => resolve(s));
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://localhost:${port}`;
  const store = built.deps.store;

  const acme = await tenantWithKey(store, 'acme', {
    routes: { auto: { strategy: 'best_value', min_quality: 10 }, cheap: { strategy: 'cheapest' }, smart: { strategy: 'best_quality' } },
    budgets: { monthly: { limit_usd: '50', mode: 'hard' }, downgrade_at: 0.8 },
    rate_limits: { tenant: { rpm: 600 } },
  });
  const bank = await tenantWithKey(store, 'eu-bank', {
    routes: { auto: { strategy: 'best_quality' }, cheap: { strategy: 'cheapest' }, smart: { strategy: 'best_quality' } },
    deny: { jurisdictions: ['cn'] },
    budgets: { monthly: { limit_usd: '20', mode: 'hard' } },
  });

  const served = (await traffic(`${url}/v1`, acme.key, 36)) + (await traffic(`${url}/v1`, bank.key, 18));
  await built.deps.ledger.flush();
  const now = new Date();
  const rows = await store.spend({ from: new Date(now.getTime() - 86_400_000), to: new Date(now.getTime() + 60_000), groupBy: ['tenant', 'provider', 'model'] });
  const names = new Map((await store.listTenants()).map((t) => [t.id, t.name]));

  const out: string[] = [];
  out.push('', 'Tollgate demo', '=============', '');
  out.push(`Gateway       ${url}/v1   (OpenAI base URL)`);
  out.push(`Dashboard     ${url}/dashboard`);
  out.push(`Admin token   ${built.deps.adminToken}`);
  out.push(`Metrics       ${url}/metrics`);
  out.push(`Demo keys     acme: ${acme.key}`);
  out.push(`              eu-bank (denies cn providers): ${bank.key}`);
  out.push('', `Sent ${served} requests through the simulator. Spend in the last 24 h:`, '');
  out.push('tenant    provider  model                   requests  cost USD          baseline USD      saved USD');
  for (const r of rows) {
    out.push(
      [
        (names.get(r.group.tenant ?? '') ?? r.group.tenant ?? '').padEnd(9),
        (r.group.provider ?? '-').padEnd(9),
        (r.group.model ?? '-').padEnd(23),
        String(r.requests).padStart(8),
        picoToUsd(r.costPico, 8).padStart(16),
        picoToUsd(r.baselineCostPico, 8).padStart(17),
        picoToUsd(r.baselineCostPico - r.costPico, 8).padStart(14),
      ].join(' '),
    );
  }
  out.push('', 'Try it:', `  curl ${url}/v1/chat/completions -H "Authorization: Bearer ${acme.key}" \\`);
  out.push(`    -H 'content-type: application/json' -d '{"model":"auto","messages":[{"role":"user","content":"Hi"}]}'`, '');
  process.stdout.write(`${out.join('\n')}\n`);

  const stop = async () => {
    server.close();
    (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
    await built.close();
    await sim.close();
    process.exit(0);
  };
  if (once) await stop();
  else {
    process.stdout.write('Serving until Ctrl-C.\n');
    process.on('SIGINT', () => void stop());
    process.on('SIGTERM', () => void stop());
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`demo failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
