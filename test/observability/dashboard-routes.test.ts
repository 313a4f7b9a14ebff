// The dashboard routes serve a fixed set of local assets (no CDN), with a strict CSP and revalidation by ETag.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createDashboardRoutes } from '../../src/dashboard/routes.js';

describe('dashboard routes', () => {
  const app = createDashboardRoutes();

  it('serves the page with a CSP that only allows this origin', async () => {
    const res = await app.request('/dashboard');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/html');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    const html = await res.text();
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    for (const m of html.matchAll(/(?:src|href)="(\/dashboard\/assets\/[^"]+)"/g)) {
      expect((await app.request(m[1])).status, m[1]).toBe(200);
    }
  });

  it('answers 304 to a matching ETag and 404 to anything outside the asset list', async () => {
    const first = await app.request('/dashboard/assets/app.js');
    expect(first.headers.get('content-type')).toContain('javascript');
    const etag = first.headers.get('etag') ?? '';
    expect((await app.request('/dashboard/assets/app.js', { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await app.request('/dashboard/assets/routes.ts')).status).toBe(404);
    expect((await app.request('/dashboard/assets/..%2Froutes.ts')).status).toBe(404);
  });

  it('bundles the same uPlot as the installed package', async () => {
    const installed = readFileSync(new URL('../../node_modules/uplot/dist/uPlot.iife.min.js', import.meta.url), 'utf8');
    expect(await (await app.request('/dashboard/assets/uPlot.iife.min.js')).text()).toBe(installed);
  });
});
