// Tenant isolation and stored secrets: a key reads only its own tenant, existence never leaks, ids are unguessable,
// the database holds key hashes only, the admin token is checked whatever its length.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { adminTokenMatches } from '../../src/http/admin/admin-auth.js';
import { dumpDatabase } from './db-dump.js';

/** Generous: the suite shares a 2-core machine with other integration suites; nothing here asserts durations. */
const SLOW = { timeout: 180_000 };

let h: Harness;
const A = { id: '', key: '' };
const B = { id: '', key: '' };
const clock = () => new Date('2026-11-25T12:00:00Z');

async function call(path: string, key: string, init: RequestInit = {}): Promise<{ status: number; body: string; json: unknown }> {
  const res = await fetch(`${h.url}${path}`, { ...init, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
  const body = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(body);
  } catch {
    json = null;
  }
  return { status: res.status, body, json };
}

const chat = (key: string, content: string) =>
  call('/v1/chat/completions', key, { method: 'POST', body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], max_tokens: 5 }) });

beforeAll(async () => {
  h = await startHarness({ clock, sim: { latencyMs: 0, ttftMs: 0, chunkDelayMs: 0 } });
  const a = await h.createTenant('iso-tenant-a');
  const b = await h.createTenant('iso-tenant-b-secret-name');
  Object.assign(A, { id: a.tenant.id, key: a.key });
  Object.assign(B, { id: b.tenant.id, key: b.key });
  for (let i = 0; i < 3; i++) expect((await chat(A.key, `a${i}`)).status).toBe(200);
  for (let i = 0; i < 2; i++) expect((await chat(B.key, `b-private-prompt-${i}`)).status).toBe(200);
  await h.flushLedger();
}, 180_000);
afterAll(async () => h?.close(), 60_000);

/** The answer for another tenant's id must be the answer for an id that does not exist, apart from the id itself. */
function sameAsMissing(forOther: { status: number; body: string }, forMissing: { status: number; body: string }, otherId: string, missingId: string): void {
  expect(forOther.status).toBe(404);
  expect(forOther.status).toBe(forMissing.status);
  expect(forOther.body.replaceAll(otherId, 'ID')).toBe(forMissing.body.replaceAll(missingId, 'ID'));
}

describe('a tenant key cannot read or infer another tenant', SLOW, () => {
  it('/v1/spend?tenant=<B> is the 404 of a tenant that does not exist', async () => {
    const missing = `ten_${randomBytes(16).toString('base64url')}`;
    const other = await call(`/v1/spend?tenant=${B.id}`, A.key);
    sameAsMissing(other, await call(`/v1/spend?tenant=${missing}`, A.key), B.id, missing);
    for (const format of ['json', 'csv', 'focus']) {
      const own = await call(`/v1/spend?format=${format}&group_by=tenant,model`, A.key);
      expect(own.status).toBe(200);
      expect(own.body).not.toContain(B.id);
      expect(own.body).not.toContain('iso-tenant-b-secret-name');
    }
  });

  it("A's spend counts only A's requests", async () => {
    const own = (await call('/v1/spend?group_by=tenant', A.key)).body;
    const adminView = await (await h.admin(`/spend?group_by=tenant&tenant=${A.id}`)).text();
    // The tenant view equals the admin's view of that one tenant, whatever B did.
    expect(JSON.parse(own)).toEqual(JSON.parse(adminView));
    const bView = await (await h.admin(`/spend?group_by=tenant&tenant=${B.id}`)).text();
    expect(JSON.parse(own)).not.toEqual(JSON.parse(bView));
  });

  it("B's stored response is the 404 of a missing one for A (read and delete), and survives A's delete", async () => {
    const id = `resp_${randomBytes(24).toString('hex')}`;
    const now = clock();
    await h.built.deps.store.saveResponse({ id, tenantId: B.id, body: { id, object: 'response', output: [] }, createdAt: now, expiresAt: new Date(now.getTime() + 365 * 86_400_000) });
    const missing = `resp_${randomBytes(24).toString('hex')}`;
    sameAsMissing(await call(`/v1/responses/${id}`, A.key), await call(`/v1/responses/${missing}`, A.key), id, missing);
    sameAsMissing(await call(`/v1/responses/${id}`, A.key, { method: 'DELETE' }), await call(`/v1/responses/${missing}`, A.key, { method: 'DELETE' }), id, missing);
    expect(await h.built.deps.store.getResponse(B.id, id)).not.toBeNull();
  });

  it('every admin endpoint refuses a tenant key with 401 (also for B’s own ids)', async () => {
    const paths: Array<[string, string]> = [
      ['GET', '/admin/tenants'],
      ['GET', `/admin/tenants/${B.id}`],
      ['PATCH', `/admin/tenants/${B.id}`],
      ['DELETE', `/admin/tenants/${B.id}`],
      ['GET', `/admin/tenants/${B.id}/keys`],
      ['POST', `/admin/tenants/${B.id}/keys`],
      ['GET', `/admin/tenants/${B.id}/policy`],
      ['PUT', `/admin/tenants/${B.id}/policy`],
      ['GET', `/admin/spend?tenant=${B.id}`],
    ];
    for (const [method, path] of paths) {
      const r = await call(path, A.key, { method, ...(method === 'GET' || method === 'DELETE' ? {} : { body: '{"name":"x"}' }) });
      expect(r.status, `${method} ${path}`).toBe(401);
      expect(Object.keys((r.json as { error: object }).error).sort()).toEqual(['code', 'message', 'param', 'type']);
    }
    // B is untouched.
    expect((await h.built.deps.store.getTenant(B.id))?.disabled).toBe(false);
    expect((await chat(B.key, 'still mine')).status).toBe(200);
  });

  it('ids are unguessable: 128+ random bits, never sequential', async () => {
    const tenantIds: string[] = [];
    const keyIds: string[] = [];
    for (let i = 0; i < 5; i++) {
      const t = (await (await h.admin('/tenants', { method: 'POST', body: JSON.stringify({ name: `ids-${i}` }) })).json()) as { id: string };
      const k = (await (await h.admin(`/tenants/${t.id}/keys`, { method: 'POST', body: JSON.stringify({ name: 'k' }) })).json()) as { id: string; key: string };
      tenantIds.push(t.id);
      keyIds.push(k.id, k.key);
    }
    const requestIds = await Promise.all([1, 2, 3].map(async () => (await fetch(`${h.url}/healthz`)).headers.get('x-request-id') ?? ''));
    for (const id of [...tenantIds, ...keyIds, ...requestIds]) {
      const random = id.slice(id.indexOf('_') + 1);
      // base64url or hex: at least 22 characters of base64url (132 bits) or 32 hex digits (128 bits).
      expect(/^[0-9a-f]+$/.test(random) ? random.length >= 32 : random.length >= 22, id).toBe(true);
    }
    expect(new Set([...tenantIds, ...keyIds, ...requestIds]).size).toBe(tenantIds.length + keyIds.length + requestIds.length);
  });
});

describe('secrets at rest', SLOW, () => {
  it('the database holds key hashes, never a key secret or the admin token', async () => {
    const dump = await dumpDatabase(h.dbUrl!);
    expect(dump.length).toBeGreaterThan(1000);
    for (const secret of [A.key, B.key]) {
      expect(dump).not.toContain(secret);
      expect(dump).not.toContain(secret.slice(12)); // not even the part after the shown prefix
      expect(dump).toContain(createHash('sha256').update(secret).digest('hex'));
    }
    expect(dump).not.toContain(h.adminToken);
  });
});

describe('admin token', SLOW, () => {
  it('is compared over fixed-size digests: any length is refused without throwing', () => {
    const expected = createHash('sha256').update(h.adminToken).digest();
    for (const t of ['', 'x', h.adminToken.slice(0, -1), `${h.adminToken}x`, h.adminToken.toUpperCase(), 'a'.repeat(10_000)]) {
      expect(adminTokenMatches(t, expected)).toBe(false);
    }
    expect(adminTokenMatches(h.adminToken, expected)).toBe(true);
  });

  it('shorter, longer, prefixed, suffixed and padded tokens get 401 over HTTP', async () => {
    const t = h.adminToken;
    for (const wrong of [t.slice(0, -1), `${t}0`, t.slice(1), `x${t}`, t.toUpperCase(), t.slice(0, 4), `${t} ${t}`, 'a'.repeat(8000)]) {
      const res = await fetch(`${h.url}/admin/tenants`, { headers: { authorization: `Bearer ${wrong}` } });
      expect(res.status, wrong.slice(0, 40)).toBe(401);
      await res.text();
    }
    expect((await fetch(`${h.url}/admin/tenants`, { headers: { authorization: `Bearer ${t}` } })).status).toBe(200);
  });
});
