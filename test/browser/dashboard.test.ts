// The finance dashboard in headless Debian Chromium: sign in, totals equal the spend API's, forecast, CSV, screenshot.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDashboardRoutes } from '../../src/dashboard/routes.js';
import { usdToPico } from '../../src/metering/money.js';
import { createStubAdmin, fixtureRows, stubTenants } from './stub-admin.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const TOKEN = 'admin-test-token-5f2c';
// A fixed instant: the default range (month to date) and the month-end forecast depend on the clock.
const NOW = new Date('2026-11-20T12:00:00Z');
const rows = fixtureRows('2026-10-01', '2026-11-20');

let server: ServerType;
let base: string;
let context: BrowserContext;
let page: Page;
let userDataDir: string;

async function apiJson(path: string): Promise<{ totals: Record<string, unknown>; rows: Array<Record<string, unknown>> }> {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as { totals: Record<string, unknown>; rows: Array<Record<string, unknown>> };
}

/** "$1,234.5678" / "−$0.10" → pico-USD, parsed independently of the page's own formatter. */
function shownPico(text: string): bigint {
  const neg = text.startsWith('−') || text.startsWith('-');
  const v = usdToPico(text.replace(/^[−-]/, '').replace('$', '').replace(/,/g, ''));
  return neg ? -v : v;
}

async function kpi(name: string): Promise<{ text: string; exact: string | null }> {
  const loc = page.locator(`[data-kpi="${name}"]`);
  return { text: (await loc.textContent()) ?? '', exact: await loc.getAttribute('data-exact') };
}

beforeAll(async () => {
  const app = new Hono();
  app.route('/', createStubAdmin({ token: TOKEN, rows, now: () => NOW }));
  app.route('/', createDashboardRoutes());
  server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  userDataDir = mkdtempSync(join(tmpdir(), 'tollgate-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 1000 },
    acceptDownloads: true,
  });
  page = context.pages()[0] ?? (await context.newPage());
  await page.clock.setFixedTime(NOW);
}, 60_000);

afterAll(async () => {
  await context?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

describe('finance dashboard', () => {
  it('refuses a wrong admin token', async () => {
    await page.goto(`${base}/dashboard`);
    await page.fill('#token', 'not-the-token');
    await page.click('#login-form button[type=submit]');
    await expect.poll(() => page.locator('#login-error').textContent()).toContain('refused');
    expect(await page.locator('#app').isVisible()).toBe(false);
  });

  it('signs in and shows the month-to-date totals the spend API returns', async () => {
    await page.fill('#token', TOKEN);
    await page.click('#login-form button[type=submit]');
    await page.waitForSelector('body[data-state="ready"]');
    expect(await page.inputValue('#from')).toBe('2026-11-01');
    expect(await page.inputValue('#to')).toBe('2026-11-20');
    const api = await apiJson('/admin/spend?from=2026-11-01&to=2026-11-20&group_by=day,tenant,provider,model');
    for (const [name, field] of [['cost', 'cost_usd'], ['baseline', 'baseline_cost_usd'], ['saved', 'saved_usd']] as const) {
      const shown = await kpi(name);
      expect(shown.exact).toBe(api.totals[field]);
      expect(shownPico(shown.text)).toBe(usdToPico(String(api.totals[field])));
    }
    // The API's totals are checked against the fixture itself, so a wrong report cannot pass unnoticed.
    const novemberPico = rows.filter((r) => (r.group.day ?? '') >= '2026-11-01').reduce((a, r) => a + r.costPico, 0n);
    expect(usdToPico(String(api.totals.cost_usd))).toBe(novemberPico);
    expect((await kpi('requests')).exact).toBe(String(api.totals.requests));
    expect((await kpi('errors')).exact).toBe(String(api.totals.errors));
  });

  it('ranks top tenants by spend and forecasts month-end spend against each monthly budget', async () => {
    const byTenant = new Map<string, bigint>();
    for (const r of rows) if ((r.group.day ?? '') >= '2026-11-01') byTenant.set(r.group.tenant ?? '', (byTenant.get(r.group.tenant ?? '') ?? 0n) + r.costPico);
    const ranked = [...byTenant.entries()].sort((a, b) => (a[1] < b[1] ? 1 : -1));
    const firstRow = page.locator('#top-tenants tbody tr').first();
    expect(await firstRow.locator('td').first().getAttribute('data-tenant')).toBe(ranked[0][0]);
    expect(shownPico((await firstRow.locator('td').nth(1).textContent()) ?? '')).toBe(ranked[0][1]);

    const monthStart = Date.UTC(2026, 10, 1);
    const elapsed = BigInt(NOW.getTime() - monthStart);
    const length = BigInt(Date.UTC(2026, 11, 1) - monthStart);
    const budgeted = stubTenants.filter((t) => t.policy.budgets?.monthly);
    expect(await page.locator('#budget-table tbody tr').count()).toBe(budgeted.length);
    for (const t of budgeted) {
      const forecast = ((byTenant.get(t.id) ?? 0n) * length) / elapsed;
      const cents = (forecast + 5_000_000_000n) / 10_000_000_000n;
      const row = page.locator(`#budget-table tbody tr:has(td[data-tenant="${t.id}"])`);
      const text = (await row.locator('td').nth(3).textContent()) ?? '';
      expect(shownPico(text)).toBe(cents * 10_000_000_000n);
      expect(shownPico((await row.locator('td').nth(2).textContent()) ?? '')).toBe(byTenant.get(t.id));
    }
  });

  it('follows the date range picker and the tenant filter', async () => {
    await page.click('[data-preset="last-month"]');
    await expect.poll(() => page.inputValue('#from')).toBe('2026-10-01');
    await page.waitForSelector('body[data-state="ready"]');
    await expect.poll(async () => (await kpi('cost')).exact).toBe(
      (await apiJson('/admin/spend?from=2026-10-01&to=2026-10-31&group_by=day,tenant,provider,model')).totals.cost_usd,
    );
    await page.selectOption('#tenant', 'ten_globex');
    const globex = await apiJson('/admin/spend?from=2026-10-01&to=2026-10-31&tenant=ten_globex&group_by=day,tenant,provider,model');
    await expect.poll(async () => (await kpi('cost')).exact).toBe(globex.totals.cost_usd);
    expect(await page.locator('#top-tenants tbody tr').count()).toBe(1);
    await page.selectOption('#tenant', '');
    await page.click('[data-preset="mtd"]');
    await page.waitForSelector('body[data-state="ready"]');
  });

  it('downloads the same data as CSV', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv')]);
    const file = await download.path();
    const res = await fetch(`${base}/admin/spend?from=2026-11-01&to=2026-11-20&group_by=day,tenant,provider,model&format=csv`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const expected = await res.text();
    expect(expected.split('\r\n').length).toBeGreaterThan(100);
    expect(readFileSync(file, 'utf8')).toBe(expected);
  });

  it('loads no resource from another origin, and saves a screenshot', async () => {
    const foreign: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(base) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) foreign.push(r.url());
    });
    await page.reload();
    await page.waitForSelector('body[data-state="ready"]');
    expect(await page.locator('#chart-spend .uplot').count()).toBe(1);
    expect(foreign).toEqual([]);
    mkdirSync(join(root, 'test-results'), { recursive: true });
    const shot = join(root, 'test-results', 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    // The README's copy is refreshed on purpose only, so that test runs leave the work tree clean.
    if (process.env.TOLLGATE_UPDATE_SCREENSHOT === '1') copyFileSync(shot, join(root, 'docs', 'dashboard.png'));
  });
});
