// The admin surface on the whole gateway over real HTTP: keys made through /admin drive the openai SDK, spend adds up,
// revocation and disabling take effect, and /openapi.json is served.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';

let h: Harness;
const clock = () => new Date('2026-11-25T12:00:00Z');

async function body<T>(res: Response, status = 200): Promise<T> {
  expect(res.status).toBe(status);
  return (await res.json()) as T;
}

async function tenantWithKey(name: string): Promise<{ id: string; key: string; keyId: string }> {
  const t = await body<{ id: string }>(await h.admin('/tenants', { method: 'POST', body: JSON.stringify({ name }) }), 201);
  const k = await body<{ id: string; key: string }>(await h.admin(`/tenants/${t.id}/keys`, { method: 'POST', body: JSON.stringify({ name: 'app' }) }), 201);
  return { id: t.id, key: k.key, keyId: k.id };
}

describe('admin surface on the running gateway', () => {
  beforeAll(async () => {
    h = await startHarness({ clock });
  });
  afterAll(async () => h?.close());

  it('keys from /admin work with the SDK; /v1/spend shows exactly the metered cost, own tenant only', async () => {
    const a = await tenantWithKey('e2e-a');
    const b = await tenantWithKey('e2e-b');
    const sdkA = new OpenAI({ baseURL: h.baseURL, apiKey: a.key, maxRetries: 0 });
    const sdkB = new OpenAI({ baseURL: h.baseURL, apiKey: b.key, maxRetries: 0 });
    const messages = [{ role: 'user' as const, content: 'What does a gateway do?' }];
    const { response: ra } = await sdkA.chat.completions.create({ model: 'gpt-4o-mini', messages }).withResponse();
    await sdkB.chat.completions.create({ model: 'deepseek-flash', messages });
    await h.flushLedger();

    const spendA = await body<{ totals: { cost_usd: string; requests: number } }>(
      await fetch(`${h.baseURL}/spend`, { headers: { authorization: `Bearer ${a.key}` } }),
    );
    expect(spendA.totals).toMatchObject({ cost_usd: ra.headers.get('x-tollgate-cost-usd'), requests: 1 });
    const probe = await fetch(`${h.baseURL}/spend?tenant=${b.id}`, { headers: { authorization: `Bearer ${a.key}` } });
    expect(probe.status).toBe(404);

    const all = await body<{ rows: { tenant: string; requests: number }[] }>(await h.admin('/spend?group_by=tenant'));
    expect(Object.fromEntries(all.rows.map((r) => [r.tenant, r.requests]))).toMatchObject({ [a.id]: 1, [b.id]: 1 });
  });

  it('a revoked key is refused at once on this instance; a disabled tenant gets 403', async () => {
    const a = await tenantWithKey('e2e-revoke');
    const sdk = new OpenAI({ baseURL: h.baseURL, apiKey: a.key, maxRetries: 0 });
    expect((await sdk.models.list()).data.length).toBeGreaterThan(0);
    await body(await h.admin(`/keys/${a.keyId}`, { method: 'DELETE' }));
    await expect(sdk.models.list()).rejects.toBeInstanceOf(OpenAI.AuthenticationError);

    const b = await tenantWithKey('e2e-disable');
    const sdkB = new OpenAI({ baseURL: h.baseURL, apiKey: b.key, maxRetries: 0 });
    expect((await sdkB.models.list()).data.length).toBeGreaterThan(0);
    await body(await h.admin(`/tenants/${b.id}`, { method: 'PATCH', body: JSON.stringify({ disabled: true }) }));
    const err = await sdkB.models.list().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((err as InstanceType<typeof OpenAI.PermissionDeniedError>).code).toBe('tenant_disabled');
  });

  it('a policy PUT through /admin changes what the tenant can route to', async () => {
    const t = await tenantWithKey('e2e-policy');
    const sdk = new OpenAI({ baseURL: h.baseURL, apiKey: t.key, maxRetries: 0 });
    const put = await h.admin(`/tenants/${t.id}/policy`, {
      method: 'PUT',
      body: JSON.stringify({ routes: { thrifty: { strategy: 'cheapest' } }, deny: { providers: ['openai'] } }),
    });
    expect(put.status).toBe(200);
    const ids = (await sdk.models.list()).data.map((m) => m.id);
    expect(ids).toContain('thrifty');
    expect(ids).not.toContain('gpt-4o-mini');
  });

  it('serves /openapi.json with every admin path', async () => {
    const doc = await body<{ openapi: string; paths: Record<string, unknown> }>(await fetch(`${h.url}/openapi.json`));
    expect(doc.openapi).toBe('3.1.0');
    for (const p of ['/admin/tenants', '/admin/tenants/{id}', '/admin/tenants/{id}/keys', '/admin/keys/{id}', '/admin/tenants/{id}/policy', '/admin/spend']) {
      expect(doc.paths[p], p).toBeDefined();
    }
  });
});
