// Takes docs/dashboard-demo.png from `npm run demo` data: runs the demo on a free port, signs in to /dashboard in
// headless Debian Chromium, saves a full-page screenshot. Usage: npx tsx scripts/demo-screenshot.ts
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const port = 18000 + Math.floor(Math.random() * 1000);
const dataDir = mkdtempSync(join(tmpdir(), 'tollgate-demo-shot-'));
const demo = spawn(resolve('node_modules/.bin/tsx'), ['src/demo.ts'], {
  env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', TOLLGATE_DATA_DIR: dataDir, LOG_LEVEL: 'error' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let out = '';
demo.stdout!.on('data', (d: Buffer) => (out += d.toString()));
const deadline = Date.now() + 180_000;
while (!out.includes('Serving until Ctrl-C')) {
  if (Date.now() > deadline || demo.exitCode !== null) throw new Error(`demo did not come up:\n${out}`);
  await new Promise((r) => setTimeout(r, 200));
}
const token = /Admin token\s+(tga_\S+)/.exec(out)![1];
const userDataDir = mkdtempSync(join(tmpdir(), 'tollgate-chromium-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1400, height: 1000 },
});
try {
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${port}/dashboard`);
  await page.fill('#token', token);
  await page.click('#login-form button[type=submit]');
  await page.waitForTimeout(2500);
  await page.screenshot({ path: 'docs/dashboard-demo.png', fullPage: true });
  process.stdout.write('saved docs/dashboard-demo.png\n');
} finally {
  await context.close();
  demo.kill('SIGTERM');
  rmSync(userDataDir, { recursive: true, force: true });
  rmSync(dataDir, { recursive: true, force: true });
}
