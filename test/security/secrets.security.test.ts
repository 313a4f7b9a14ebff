// Secrets never leak: the gateway runs as a real process; traffic includes upstream auth errors and an upstream that
// echoes the key it was sent; then every output is grepped for the provider keys and the admin token.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { spawnGateway, type GatewayProcess } from '../support/process.js';
import { createTestDatabase } from '../support/services.js';
import { sendJson, startCaptureServer, type CaptureServer } from '../providers/capture-server.js';
import { dumpDatabase } from './db-dump.js';

/** Generous: the suite shares a 2-core machine with other integration suites; nothing here asserts durations. */
const SLOW = { timeout: 180_000 };

const secret = (tag: string) => `${tag}-${randomBytes(18).toString('base64url')}`;
const KEYS = { openai: secret('sk-proj-LEAKCHECKopenai'), deepseek: secret('sk-LEAKCHECKdeepseek'), gemini: secret('AIzaLEAKCHECKgemini') };
const ADMIN = secret('tga_LEAKCHECKadmin');
const SECRETS = [KEYS.openai, KEYS.deepseek, KEYS.gemini, ADMIN];

let sim: Simulator;
let echo: CaptureServer;
let gw: GatewayProcess;
let db: { url: string; drop: () => Promise<void> };
let dataDir: string;
let key = '';
/** Everything a client received: status lines, headers and bodies. */
let seen = '';

async function record(res: Response, label: string): Promise<number> {
  let h = '';
  res.headers.forEach((v, k) => (h += `${k}: ${v}\n`));
  seen += `== ${label} ${res.status}\n${h}${await res.text()}\n`;
  return res.status;
}

async function post(path: string, body: object, auth = key): Promise<number> {
  const res = await fetch(`${gw.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return record(res, `POST ${path} ${JSON.stringify(body).slice(0, 80)}`);
}

beforeAll(async () => {
  sim = await startSimulator({ keys: { openai: KEYS.openai, gemini: KEYS.gemini }, latencyMs: 0, ttftMs: 0, chunkDelayMs: 0 });
  // A careless upstream: quotes the credential it received in its error body and a header (as some APIs do).
  echo = await startCaptureServer();
  echo.respond((req, res) => {
    const got = String(req.headers.authorization ?? '');
    sendJson(res, 401, { error: { message: `Incorrect API key provided: ${got}`, type: 'invalid_request_error', code: 'invalid_api_key' } }, { 'x-echo-auth': got });
  });
  db = await createTestDatabase();
  dataDir = mkdtempSync(join(tmpdir(), 'tollgate-secrets-'));
  gw = await spawnGateway({
    DATABASE_URL: db.url,
    TOLLGATE_DATA_DIR: dataDir,
    TOLLGATE_ADMIN_TOKEN: ADMIN,
    OPENAI_API_KEY: KEYS.openai,
    DEEPSEEK_API_KEY: KEYS.deepseek,
    GEMINI_API_KEY: KEYS.gemini,
    OPENAI_BASE_URL: sim.baseUrls.openai,
    DEEPSEEK_BASE_URL: echo.url,
    GEMINI_BASE_URL: sim.baseUrls.gemini,
    LOG_LEVEL: 'debug',
  }, { startTimeoutMs: 150_000 });
  const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' };
  const t = (await (await fetch(`${gw.url}/admin/tenants`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'leak-check' }) })).json()) as { id: string };
  key = ((await (await fetch(`${gw.url}/admin/tenants/${t.id}/keys`, { method: 'POST', headers: admin, body: JSON.stringify({ name: 'k' }) })).json()) as { key: string }).key;
}, 180_000);

afterAll(async () => {
  await gw?.stop('SIGTERM');
  await echo?.close();
  await sim?.close();
  await db?.drop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

function expectNoSecret(text: string, where: string): void {
  for (const s of SECRETS) {
    expect(text.includes(s), `${where} holds a secret`).toBe(false);
    // Nor a long slice of one (a key "masked" by cutting a few characters is still a key).
    expect(text.includes(s.slice(-20)), `${where} holds the tail of a secret`).toBe(false);
  }
}

describe('provider keys and the admin token never leave the process', SLOW, () => {
  it('traffic with upstream auth errors, an echoing upstream, bad keys and bad admin tokens', async () => {
    const msg = (content: string) => [{ role: 'user', content }];
    expect(await post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: msg('hello'), max_tokens: 5 })).toBe(200);
    expect(await post('/v1/chat/completions', { model: 'gemini-2.5-flash', messages: msg('hello'), max_tokens: 5 })).toBe(200);
    expect(await post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: msg('hi'), stream: true, stream_options: { include_usage: true } })).toBe(200);
    for (const model of ['gpt-4o-mini', 'gemini-2.5-flash']) {
      for (const stream of [false, true]) {
        expect(await post('/v1/chat/completions', { model, stream, messages: msg('[[sim:fault=auth]] hi') })).toBeGreaterThanOrEqual(400);
      }
    }
    for (const stream of [false, true]) {
      expect(await post('/v1/chat/completions', { model: 'deepseek-flash', stream, messages: msg('hi') })).toBeGreaterThanOrEqual(400);
    }
    expect(await post('/v1/embeddings', { model: 'text-embedding-3-small', input: 'hi' })).toBe(200);
    expect(await post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: msg('[[sim:fault=status:500]]') })).toBeGreaterThanOrEqual(400);
    expect(await post('/v1/route/explain', { model: 'auto', messages: msg('hi') })).toBe(200);
    expect(await post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: msg('hi') }, `tg_${KEYS.openai}`)).toBe(401);
    expect(await post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: msg('hi') }, KEYS.openai)).toBe(401);
    for (const path of ['/admin/tenants', '/admin/spend', '/readyz', '/healthz', '/v1/models', '/v1/spend', '/openapi.json']) {
      await record(await fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${path.startsWith('/admin') ? `${ADMIN}x` : key}` } }), `GET ${path}`);
    }
    await record(await fetch(`${gw.url}/admin/tenants`, { headers: { authorization: `Bearer ${ADMIN}` } }), 'GET /admin/tenants (admin)');
    // The echoing upstream did receive the key: the test would see a leak if the gateway passed its answer through.
    expect(echo.requests.some((r) => String(r.headers.authorization).includes(KEYS.deepseek))).toBe(true);
    expect(seen).toContain('== POST /v1/chat/completions');
    expectNoSecret(seen, 'responses (bodies and headers)');
  });

  it('nor in /metrics, the dashboard page and assets, the logs, the data dir or the ledger rows', async () => {
    expectNoSecret(await (await fetch(`${gw.url}/metrics`)).text(), '/metrics');
    const page = await (await fetch(`${gw.url}/dashboard`)).text();
    expectNoSecret(page, 'dashboard HTML');
    const assets = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]).filter((u) => u.startsWith('/dashboard'));
    expect(assets.length).toBeGreaterThan(0);
    for (const a of assets) expectNoSecret(await (await fetch(`${gw.url}${a}`)).text(), a);
    // SIGTERM flushes the ledger and writes the last log lines.
    expect(await gw.stop('SIGTERM')).toBe(0);
    const log = gw.output();
    expect(log).toContain('tollgate listening');
    expectNoSecret(log, 'process output');
    for (const f of filesUnder(dataDir)) expectNoSecret(readFileSync(f).toString('latin1'), f);
    const dump = await dumpDatabase(db.url);
    expect(dump).toContain('usage_ledger');
    expectNoSecret(dump, 'database (ledger rows included)');
  });
});
