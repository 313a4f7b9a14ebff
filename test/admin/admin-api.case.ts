// Admin API behaviour, run against each store backend (PGlite in memory and postgres.js on the real server).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/interface.js';
import { spendReportSchema, tenantSchema } from '../../src/http/admin/schemas.js';
import { admin, bearer, createClock, createTestApp, ledgerEvent, type Backend } from './harness.js';

type App = ReturnType<typeof createTestApp>;

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

async function createTenant(app: App, name: string, policy?: unknown): Promise<Record<string, unknown>> {
  const res = await app.request('/admin/tenants', { method: 'POST', headers: admin(), body: JSON.stringify({ name, policy }) });
  expect(res.status).toBe(201);
  return json(res);
}

async function createKey(app: App, tenantId: string, name = 'k'): Promise<{ id: string; key: string }> {
  const res = await app.request(`/admin/tenants/${tenantId}/keys`, { method: 'POST', headers: admin(), body: JSON.stringify({ name }) });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; key: string };
}

export function describeAdminApi(backend: Backend): void {
  describe(`admin API on ${backend.name}`, () => {
    let store: Store;
    let close: () => Promise<void>;
    const clock = createClock('2026-11-20T12:00:00Z');
    let app: App;
    const changes: string[] = [];

    beforeAll(async () => {
      ({ store, close } = await backend.open());
      app = createTestApp({
        store,
        clock: clock.now,
        onPolicyChange: (id) => changes.push(id),
        limiterStatus: async (t) => [
          { period: 'month', mode: 'hard', limitPico: 500_000_000_000_000n, spentPico: BigInt(t.name.length) * 1_000_000n, resetsAt: new Date('2026-12-01T00:00:00Z') },
        ],
      });
      // PGlite compiles Postgres to WASM and migrates in memory: tens of seconds on a busy 2-core machine.
    }, 180_000);
    afterAll(async () => close());

    it('refuses a missing or wrong admin token with an OpenAI-shaped 401', async () => {
      for (const headers of [{}, { authorization: 'Bearer nope' }, { authorization: 'Basic abc' }, admin({ authorization: 'Bearer test-admin-token-012345678' })]) {
        const res = await app.request('/admin/tenants', { headers });
        expect(res.status).toBe(401);
        const body = await json(res);
        expect(body.error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_api_key' });
      }
    });

    it('creates, reads, lists, renames, disables and deletes a tenant', async () => {
      const t = await createTenant(app, 'Acme');
      expect(tenantSchema.safeParse(t).success).toBe(true);
      expect(t).toMatchObject({ name: 'Acme', disabled: false });
      expect(String(t.id)).toMatch(/^ten_/);
      const id = String(t.id);

      const list = await json(await app.request('/admin/tenants', { headers: admin() }));
      expect((list.data as { id: string }[]).map((x) => x.id)).toContain(id);

      const got = await json(await app.request(`/admin/tenants/${id}`, { headers: admin() }));
      expect(got).toMatchObject({ id, name: 'Acme' });

      const patched = await app.request(`/admin/tenants/${id}`, { method: 'PATCH', headers: admin(), body: JSON.stringify({ name: 'Acme 2', disabled: true }) });
      expect(patched.status).toBe(200);
      expect(await json(patched)).toMatchObject({ name: 'Acme 2', disabled: true });

      const del = await app.request(`/admin/tenants/${id}`, { method: 'DELETE', headers: admin() });
      expect(del.status).toBe(200);
      expect((await app.request(`/admin/tenants/${id}`, { headers: admin() })).status).toBe(404);
      const after = await json(await app.request('/admin/tenants', { headers: admin() }));
      expect((after.data as { id: string }[]).map((x) => x.id)).not.toContain(id);
    });

    it('answers 404 for unknown ids on every route', async () => {
      const unknown = 'ten_doesnotexist0000000000';
      const cases: [string, string, unknown?][] = [
        ['GET', `/admin/tenants/${unknown}`],
        ['PATCH', `/admin/tenants/${unknown}`, { name: 'x' }],
        ['DELETE', `/admin/tenants/${unknown}`],
        ['GET', `/admin/tenants/${unknown}/policy`],
        ['PUT', `/admin/tenants/${unknown}/policy`, {}],
        ['GET', `/admin/tenants/${unknown}/keys`],
        ['POST', `/admin/tenants/${unknown}/keys`, { name: 'x' }],
        ['DELETE', '/admin/keys/key_doesnotexist000000000'],
      ];
      for (const [method, path, body] of cases) {
        const res = await app.request(path, { method, headers: admin(), body: body === undefined ? undefined : JSON.stringify(body) });
        expect(res.status, `${method} ${path}`).toBe(404);
        expect((await json(res)).error).toMatchObject({ code: 'not_found', type: 'invalid_request_error' });
      }
    });

    it('rejects bad payloads with a 400 naming the field in param', async () => {
      const t = await createTenant(app, 'Policy Co');
      const cases: [string, string, unknown, string | null][] = [
        ['PUT', `/admin/tenants/${t.id}/policy`, { routes: { auto: { strategy: 'fastest' } } }, 'routes.auto.strategy'],
        ['PUT', `/admin/tenants/${t.id}/policy`, { budgets: { monthly: { limit_usd: '-5' } } }, 'budgets.monthly.limit_usd'],
        ['PUT', `/admin/tenants/${t.id}/policy`, { routes: { auto: { providers: ['openai', 'acme'] } } }, 'routes.auto.providers[1]'],
        ['POST', '/admin/tenants', { name: '' }, 'name'],
        ['POST', '/admin/tenants', { name: 'x', policy: { pinned: 'always' } }, 'policy.pinned'],
        ['PATCH', `/admin/tenants/${t.id}`, { disabled: 'yes' }, 'disabled'],
        ['POST', `/admin/tenants/${t.id}/keys`, {}, 'name'],
      ];
      for (const [method, path, body, param] of cases) {
        const res = await app.request(path, { method, headers: admin(), body: JSON.stringify(body) });
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect((await json(res)).error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_request', param });
      }
      const bad = await app.request('/admin/tenants', { method: 'POST', headers: admin(), body: '{"name":' });
      expect(bad.status).toBe(400);
      expect((await json(bad)).error).toMatchObject({ code: 'invalid_json' });
    });

    it('shows the limiter\'s budget state on GET /admin/tenants/:id and reports changes to onPolicyChange', async () => {
      const t = await createTenant(app, 'Budgeted');
      const got = await json(await app.request(`/admin/tenants/${t.id}`, { headers: admin() }));
      expect(got.budgets).toEqual([{ period: 'month', mode: 'hard', limit_usd: '500.000000000000', spent_usd: '0.000008000000', resets_at: '2026-12-01T00:00:00.000Z' }]);
      changes.length = 0;
      await app.request(`/admin/tenants/${t.id}/policy`, { method: 'PUT', headers: admin(), body: JSON.stringify({}) });
      await app.request(`/admin/tenants/${t.id}`, { method: 'PATCH', headers: admin(), body: JSON.stringify({ disabled: true }) });
      await app.request(`/admin/tenants/${t.id}`, { method: 'DELETE', headers: admin() });
      expect(changes).toEqual([t.id, t.id, t.id]);
    });

    it('stores a new policy version and returns it', async () => {
      const t = await createTenant(app, 'Versioned');
      const put = await app.request(`/admin/tenants/${t.id}/policy`, {
        method: 'PUT',
        headers: admin(),
        body: JSON.stringify({ routes: { cheap: { strategy: 'cheapest' } }, budgets: { monthly: { limit_usd: '500' } } }),
      });
      expect(put.status).toBe(200);
      expect(put.headers.get('etag')).toBe(`"v${Number(t.policy_version) + 1}"`);
      const got = await json(await app.request(`/admin/tenants/${t.id}/policy`, { headers: admin() }));
      expect(got.routes).toEqual({ cheap: expect.objectContaining({ strategy: 'cheapest' }) });
      expect(got.budgets).toMatchObject({ monthly: { limit_usd: '500', mode: 'hard' } });
    });

    it('creates a key whose secret appears once, which works, then is revoked and fails', async () => {
      const t = await createTenant(app, 'Keys Inc');
      const created = await createKey(app, String(t.id), 'ci');
      expect(created.key).toMatch(/^tg_/);
      expect(created).toMatchObject({ name: 'ci', prefix: created.key.slice(0, (created as unknown as { prefix: string }).prefix.length) });

      const listed = await app.request(`/admin/tenants/${t.id}/keys`, { headers: admin() });
      const listedText = await listed.text();
      expect(listedText).not.toContain(created.key);
      expect(JSON.parse(listedText).data).toEqual([expect.objectContaining({ id: created.id, revoked_at: null })]);

      const ok = await app.request('/v1/whoami', { headers: bearer(created.key) });
      expect(ok.status).toBe(200);
      expect(await json(ok)).toEqual({ tenant: t.id, key: created.id });

      const revoked = await app.request(`/admin/keys/${created.id}`, { method: 'DELETE', headers: admin() });
      expect(revoked.status).toBe(200);
      expect((await json(revoked)).revoked_at).not.toBeNull();

      const fails = await app.request('/v1/whoami', { headers: bearer(created.key) });
      expect(fails.status).toBe(401);
      expect((await json(fails)).error).toMatchObject({ code: 'invalid_api_key', type: 'invalid_request_error' });
    });

    it('answers 403 tenant_disabled for a key of a disabled tenant, 200 once enabled, 401 once deleted', async () => {
      const t = await createTenant(app, 'Paused');
      const k = await createKey(app, String(t.id));
      await app.request(`/admin/tenants/${t.id}`, { method: 'PATCH', headers: admin(), body: JSON.stringify({ disabled: true }) });
      const res = await app.request('/v1/whoami', { headers: bearer(k.key) });
      expect(res.status).toBe(403);
      expect((await json(res)).error).toMatchObject({ code: 'tenant_disabled', type: 'permission_error' });
      await app.request(`/admin/tenants/${t.id}`, { method: 'PATCH', headers: admin(), body: JSON.stringify({ disabled: false }) });
      expect((await app.request('/v1/whoami', { headers: bearer(k.key) })).status).toBe(200);
      await app.request(`/admin/tenants/${t.id}`, { method: 'DELETE', headers: admin() });
      expect((await app.request('/v1/whoami', { headers: bearer(k.key) })).status).toBe(401);
    });

    it("keeps each tenant to its own spend on /v1/spend; the admin sees both", async () => {
      const a = await createTenant(app, 'Tenant A');
      const b = await createTenant(app, 'Tenant B');
      const ka = await createKey(app, String(a.id));
      const kb = await createKey(app, String(b.id));
      const day = new Date('2026-11-18T10:00:00Z');
      await store.insertLedger([
        ledgerEvent(String(a.id), ka.id, day, 1_000_000n),
        ledgerEvent(String(a.id), ka.id, day, 2_000_000n),
        ledgerEvent(String(b.id), kb.id, day, 7_777_777n, 'deepseek-flash'),
      ]);

      const own = await json(await app.request('/v1/spend?group_by=tenant', { headers: bearer(ka.key) }));
      expect(spendReportSchema.safeParse(own).success).toBe(true);
      expect(own.totals).toMatchObject({ cost_usd: '0.000003000000', requests: 2 });
      expect((own.rows as { tenant: string }[]).map((r) => r.tenant)).toEqual([a.id]);

      for (const q of [`tenant=${b.id}`, `tenant=${b.id}&group_by=tenant`, 'tenant=ten_unknown']) {
        const res = await app.request(`/v1/spend?${q}`, { headers: bearer(ka.key) });
        expect(res.status, q).toBe(404);
        expect(await res.text()).not.toContain('7777');
      }
      const csv = await (await app.request('/v1/spend?format=csv&group_by=tenant,model', { headers: bearer(ka.key) })).text();
      expect(csv).not.toContain(String(b.id));
      expect(csv).not.toContain('deepseek-flash');

      // A tenant key is no admin token: B's keys, policy and spend stay out of reach through /admin too.
      for (const path of ['/admin/spend', `/admin/tenants/${b.id}/keys`, `/admin/tenants/${b.id}/policy`, '/admin/tenants']) {
        expect((await app.request(path, { headers: bearer(ka.key) })).status, path).toBe(401);
      }

      const all = await json(await app.request('/admin/spend?group_by=tenant&from=2026-11-18&to=2026-11-18', { headers: admin() }));
      const byTenant = Object.fromEntries((all.rows as { tenant: string; cost_usd: string }[]).map((r) => [r.tenant, r.cost_usd]));
      expect(byTenant[String(a.id)]).toBe('0.000003000000');
      expect(byTenant[String(b.id)]).toBe('0.000007777777');
      const onlyB = await json(await app.request(`/admin/spend?tenant=${b.id}&from=2026-11-01`, { headers: admin() }));
      expect(onlyB.totals).toMatchObject({ cost_usd: '0.000007777777', requests: 1 });
    });

    it('serves spend as CSV and FOCUS CSV, defaults to the last 30 days, and refuses bad queries', async () => {
      const t = await createTenant(app, 'Csv Ltd');
      const k = await createKey(app, String(t.id));
      await store.insertLedger([
        ledgerEvent(String(t.id), k.id, new Date('2026-11-19T08:00:00Z'), 5n),
        ledgerEvent(String(t.id), k.id, new Date('2026-10-01T08:00:00Z'), 11n), // older than 30 days before the clock
      ]);
      const def = await json(await app.request(`/admin/spend?tenant=${t.id}`, { headers: admin() }));
      expect(def.group_by).toEqual(['day']);
      expect(def.totals).toMatchObject({ requests: 1, cost_usd: '0.000000000005' });

      const csv = await app.request(`/admin/spend?tenant=${t.id}&format=csv&group_by=day,model`, { headers: admin() });
      expect(csv.headers.get('content-type')).toContain('text/csv');
      expect((await csv.text()).split('\n')[0]).toMatch(/^day,model,/);

      const focus = await app.request(`/admin/spend?tenant=${t.id}&format=focus&group_by=day,tenant,provider,model`, { headers: admin() });
      const focusText = await focus.text();
      expect(focusText.split('\n')[0]).toContain('BilledCost');
      expect(focusText).toContain('Csv Ltd');

      for (const [q, param] of [['group_by=colour', 'group_by'], ['from=yesterday', 'from'], ['format=xml', 'format'], ['from=2026-11-20&to=2026-11-01', 'from']]) {
        const res = await app.request(`/admin/spend?${q}`, { headers: admin() });
        expect(res.status, q).toBe(400);
        expect((await json(res)).error).toMatchObject({ param });
      }
    });
  });
}
