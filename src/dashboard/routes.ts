// GET /dashboard and /dashboard/assets/*: the finance dashboard, served from local files (no CDN), read once at start.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Hono } from 'hono';

interface Asset {
  body: string;
  type: string;
  etag: string;
}

const staticDir = new URL('./static/', import.meta.url);
const vendorDir = new URL('./vendor/uplot/', import.meta.url);

/** The only files served: a fixed map, so no request path ever reaches the file system. */
const assetFiles: Record<string, { url: URL; type: string }> = {
  'app.js': { url: new URL('app.js', staticDir), type: 'text/javascript; charset=utf-8' },
  'data.js': { url: new URL('data.js', staticDir), type: 'text/javascript; charset=utf-8' },
  'charts.js': { url: new URL('charts.js', staticDir), type: 'text/javascript; charset=utf-8' },
  'app.css': { url: new URL('app.css', staticDir), type: 'text/css; charset=utf-8' },
  'uPlot.iife.min.js': { url: new URL('uPlot.iife.min.js', vendorDir), type: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { url: new URL('uPlot.min.css', vendorDir), type: 'text/css; charset=utf-8' },
};

// The page talks only to this origin; uPlot sets element styles from script, which needs 'unsafe-inline' for styles.
const csp = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function load(url: URL, type: string): Asset {
  const body = readFileSync(url, 'utf8');
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

export function createDashboardRoutes(): Hono {
  const page = load(new URL('index.html', staticDir), 'text/html; charset=utf-8');
  const assets = new Map<string, Asset>();
  for (const [name, f] of Object.entries(assetFiles)) assets.set(name, load(f.url, f.type));

  const app = new Hono();
  const serve = (asset: Asset, ifNoneMatch: string | undefined, extra: Record<string, string> = {}) => {
    // Revalidate every time (cheap 304s): a gateway upgrade must never leave an old app.js in a browser cache.
    const headers = { etag: asset.etag, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff', ...extra };
    if (ifNoneMatch === asset.etag) return new Response(null, { status: 304, headers });
    return new Response(asset.body, { status: 200, headers: { 'content-type': asset.type, ...headers } });
  };
  const html = (c: { req: { header(n: string): string | undefined } }) =>
    serve(page, c.req.header('if-none-match'), { 'content-security-policy': csp, 'referrer-policy': 'no-referrer' });

  app.get('/dashboard', (c) => html(c));
  app.get('/dashboard/', (c) => html(c));
  app.get('/dashboard/assets/:name', (c) => {
    const asset = assets.get(c.req.param('name'));
    if (!asset) {
      return c.json({ error: { message: 'Unknown dashboard asset.', type: 'invalid_request_error', param: null, code: 'not_found' } }, 404);
    }
    return serve(asset, c.req.header('if-none-match'));
  });
  return app;
}
