// Admin token: compared through crypto.timingSafeEqual on sha256 digests; generated once into the data dir when unset.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Hono } from 'hono';
import { afterAll, describe, expect, it, vi } from 'vitest';

const spy = vi.hoisted(() => ({ calls: [] as [number, number][] }));
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return {
    ...actual,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      spy.calls.push([a.byteLength, b.byteLength]);
      return actual.timingSafeEqual(a, b);
    },
  };
});

const { createAdminAuth, resolveAdminToken } = await import('../../src/http/admin/admin-auth.js');

describe('admin token', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  const app = new Hono();
  app.use('*', createAdminAuth('s3cret-admin-token'));
  app.get('/x', (c) => c.text('ok'));

  it('compares in constant time over equal-length digests, whatever the length of the guess', async () => {
    spy.calls.length = 0;
    for (const guess of ['s', 's3cret-admin-toke', 's3cret-admin-tokenX', 'x'.repeat(5000)]) {
      const res = await app.request('/x', { headers: { authorization: `Bearer ${guess}` } });
      expect(res.status).toBe(401);
    }
    expect(spy.calls).toEqual(Array(4).fill([32, 32]));
    expect((await app.request('/x', { headers: { authorization: 'Bearer s3cret-admin-token' } })).status).toBe(200);
    expect(spy.calls).toHaveLength(5);
  });

  it('lets nothing through when no token is configured', async () => {
    const closed = new Hono();
    closed.use('*', createAdminAuth(undefined));
    closed.get('/x', (c) => c.text('ok'));
    for (const h of [{}, { authorization: 'Bearer ' }, { authorization: 'Bearer undefined' }] as Record<string, string>[]) {
      expect((await closed.request('/x', { headers: h })).status).toBe(401);
    }
  });

  it('uses the configured token, else generates one once (mode 0600) and reuses it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-admin-'));
    dirs.push(dir);
    expect(resolveAdminToken({ configured: 'abc', dataDir: dir })).toEqual({ token: 'abc', generated: false });
    const first = resolveAdminToken({ dataDir: dir });
    expect(first.generated).toBe(true);
    expect(first.token).toMatch(/^tga_[A-Za-z0-9_-]{32}$/);
    expect(readFileSync(join(dir, 'admin-token'), 'utf8').trim()).toBe(first.token);
    expect(statSync(join(dir, 'admin-token')).mode & 0o777).toBe(0o600);
    expect(resolveAdminToken({ dataDir: dir })).toEqual({ token: first.token, generated: false });
  });
});
