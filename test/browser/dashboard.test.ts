// The finance dashboard in headless Debian Chromium: sign in, totals equal the spend API's, forecast, CSV, screenshot.
// Runs against a stub admin API and against the real gateway (real admin API and store) with a seeded ledger.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usdToPico } from '../../src/metering/money.js';
import { startRealBackend, startStubBackend, type Backend } from './backends.js';
import { fixtureRows, stubTenants } from './stub-admin.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
// A fixed instant: the default range (month to date) and the month-end forecast depend on the clock.
const NOW = new Date('2026-11-20T12:00:00Z');
const rows = fixtureRows('2026-10-01', '2026-11-20');

let context: BrowserContext;
let userDataDir: string;

beforeAll(async () => {
  userDataDir = mkdtempSync(join(tmpdir(), 'tollgate-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 1000 },
    acceptDownloads: true,
  });
}, 60_000);

afterAll(async () => {
  await context?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

/** "$1,234.5678" / "−$0.10" → pico-USD, parsed independently of the page's own formatter. */
function shownPico(text: string): bigint {
  const neg = text.startsWith('−') || text.startsWith('-');
  const v = usdToPico(text.replace(/^[−-]/, '').replace('$', '').replace(/,/g, ''));
  return neg ? -v : v;
}

describe.each([
  ['stub admin API', startStubBackend, 'dashboard-stub.png'],
  ['real gateway with a seeded ledger', startRealBackend, 'dashboard.png'],
] as const)('finance dashboard on the %s', (_name, start, screenshot) => {
  let b: Backend;
  let page: Page;

  beforeAll(async () => {
    b = await start(rows, NOW);
    page = await context.newPage();
    await page.clock.setFixedTime(NOW);
  }, 120_000);
  afterAll(async () => {
    await page?.close();
    await b?.close();
  });

  async function apiJson(path: string): Promise<{ totals: Record<string, unknown> }> {
    const res = await fetch(`${b.base}${path}`, { headers: { authorization: `Bearer ${b.token}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as { totals: Record<string, unknown> };
  }
  async function kpi(name: string): Promise<{ text: string; exact: string | null }> {
    const loc = page.locator(`[data-kpi="${name}"]`);
    return { text: (await loc.textContent()) ?? '', exact: await loc.getAttribute('data-exact') };
  }
  const november = () => b.facts.filter((f) => f.day >= '2026-11-01');

  it('refuses a wrong admin token', async () => {
    await page.goto(`${b.base}/dashboard`);
    await page.fill('#token', 'not-the-token');
    await page.click('#login-form button[type=submit]');
    await expect.poll(() => page.locator('#login-error').textContent()).toContain('refused');
    expect(await page.locator('#app').isVisible()).toBe(false);
  });

  it('signs in and shows the month-to-date totals the spend API returns', async () => {
    await page.fill('#token', b.token);
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
    // The API's total is checked against the seeded facts too, so a wrong report cannot pass unnoticed.
    expect(usdToPico(String(api.totals.cost_usd))).toBe(november().reduce((a, f) => a + f.costPico, 0n));
    expect((await kpi('requests')).exact).toBe(String(api.totals.requests));
    expect((await kpi('errors')).exact).toBe(String(api.totals.errors));
  });

  it('ranks top tenants by spend and forecasts month-end spend against each monthly budget', async () => {
    const byTenant = new Map<string, bigint>();
    for (const f of november()) byTenant.set(f.tenantId, (byTenant.get(f.tenantId) ?? 0n) + f.costPico);
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
      const id = b.tenantId(t.id);
      const forecast = ((byTenant.get(id) ?? 0n) * length) / elapsed;
      const cents = (forecast + 5_000_000_000n) / 10_000_000_000n;
      const row = page.locator(`#budget-table tbody tr:has(td[data-tenant="${id}"])`);
      expect(shownPico((await row.locator('td').nth(3).textContent()) ?? '')).toBe(cents * 10_000_000_000n);
      expect(shownPico((await row.locator('td').nth(2).textContent()) ?? '')).toBe(byTenant.get(id));
    }
  });

  it('follows the date range picker and the tenant filter', async () => {
    await page.click('[data-preset="last-month"]');
    await expect.poll(() => page.inputValue('#from')).toBe('2026-10-01');
    const october = await apiJson('/admin/spend?from=2026-10-01&to=2026-10-31&group_by=day,tenant,provider,model');
    await expect.poll(async () => (await kpi('cost')).exact).toBe(october.totals.cost_usd);
    const globex = b.tenantId('ten_globex');
    await page.selectOption('#tenant', globex);
    const one = await apiJson(`/admin/spend?from=2026-10-01&to=2026-10-31&tenant=${globex}&group_by=day,tenant,provider,model`);
    await expect.poll(async () => (await kpi('cost')).exact).toBe(one.totals.cost_usd);
    expect(await page.locator('#top-tenants tbody tr').count()).toBe(1);
    await page.selectOption('#tenant', '');
    await page.click('[data-preset="mtd"]');
    await expect.poll(() => page.inputValue('#from')).toBe('2026-11-01');
    await page.waitForSelector('body[data-state="ready"]');
  });

  it('downloads the same data as CSV', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv')]);
    const file = await download.path();
    const res = await fetch(`${b.base}/admin/spend?from=2026-11-01&to=2026-11-20&group_by=day,tenant,provider,model&format=csv`, {
      headers: { authorization: `Bearer ${b.token}` },
    });
    const expected = await res.text();
    expect(expected.split('\r\n').length).toBeGreaterThan(100);
    expect(readFileSync(file, 'utf8')).toBe(expected);
  });

  it('loads no resource from another origin, and saves a screenshot', async () => {
    const foreign: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(b.base) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) foreign.push(r.url());
    });
    await page.reload();
    await page.waitForSelector('body[data-state="ready"]');
    expect(await page.locator('#chart-spend .uplot').count()).toBe(1);
    expect(foreign).toEqual([]);
    mkdirSync(join(root, 'test-results'), { recursive: true });
    const shot = join(root, 'test-results', screenshot);
    await page.screenshot({ path: shot, fullPage: true });
    // The README's copy is refreshed on purpose only, so that test runs leave the work tree clean.
    if (process.env.TOLLGATE_UPDATE_SCREENSHOT === '1' && screenshot === 'dashboard.png') copyFileSync(shot, join(root, 'docs', 'dashboard.png'));
  });
});
