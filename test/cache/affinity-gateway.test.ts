// Cache affinity on the request path: OpenAI gets a hashed per-prefix prompt_cache_key unless the client set one, and
// each served answer teaches the affinity memory which model holds the prefix and how much of it was cached.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../src/api/openai.js';
import type { Provider, ProviderName } from '../../src/providers/types.js';
import { startHarness, type Harness } from '../support/harness.js';
import { uniqueId } from '../support/services.js';

let h: Harness;
const sent: Array<{ tenantId: string | undefined; key: string | null | undefined }> = [];

beforeAll(async () => {
  h = await startHarness({ clock: () => new Date('2026-11-25T12:00:00Z') });
  // Watch what the gateway hands the OpenAI adapter (the simulator does not record request bodies).
  const providers = h.built.deps.providers as Map<ProviderName, Provider>;
  const real = providers.get('openai');
  if (!real) throw new Error('no openai provider');
  providers.set('openai', {
    ...real,
    name: real.name,
    chat: (req: ChatRequest, ctx) => {
      sent.push({ tenantId: ctx.tenantId, key: req.prompt_cache_key });
      return real.chat(req, ctx);
    },
    chatStream: real.chatStream.bind(real),
    embed: real.embed.bind(real),
  });
});
afterAll(async () => h?.close());

const longSystem = (who: string) => `You are the help desk of ${who}.\n${'Answer politely, cite the policy section, never promise refunds. '.repeat(90)}`;

async function client(affinity: boolean) {
  const { tenant, key } = await h.createTenant(`aff-${uniqueId()}`, { cache: { affinity } });
  return { id: tenant.id, client: new OpenAI({ baseURL: h.baseURL, apiKey: key, maxRetries: 0 }) };
}

describe('cache affinity on the request path', () => {
  it('sets a hashed prompt_cache_key per tenant and prefix, and keeps the client’s own', async () => {
    const a = await client(true);
    const b = await client(true);
    const system = longSystem('Acme');
    const ask = (c: OpenAI, q: string, extra: object = {}) =>
      c.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: system }, { role: 'user', content: q }], ...extra });
    await ask(a.client, 'Where is my order?');
    await ask(a.client, 'Can I change my address?');
    await ask(b.client, 'Where is my order?');
    await ask(a.client, 'Hi', { prompt_cache_key: 'mine' });
    const keys = sent.slice(-4).map((s) => s.key);
    expect(keys[0]).toMatch(/^tg-[A-Za-z0-9_-]{32}$/);
    expect(keys[1]).toBe(keys[0]); // same tenant, same prefix
    expect(keys[2]).not.toBe(keys[0]); // another tenant
    expect(keys[0]).not.toContain(a.id);
    expect(keys[3]).toBe('mine');

    // The prefix is remembered with the model that served it and the share its cache covered (the second request hit).
    const prefix = h.built.deps.affinity.prefixKey(a.id, { messages: [{ role: 'system', content: system }, { role: 'user', content: 'x' }] });
    expect(prefix).not.toBeNull();
    const hint = h.built.deps.affinity.hint(prefix ?? '');
    expect(hint?.model).toBe('gpt-4o-mini');
    expect(hint?.cachedShare).toBeGreaterThan(0);
  });

  it('leaves short prompts and tenants without affinity alone', async () => {
    const off = await client(false);
    await off.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'system', content: longSystem('Off') }, { role: 'user', content: 'q' }] });
    const on = await client(true);
    await on.client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'short question' }] });
    // The adapter's own per-tenant key applies later (tg- + 22 chars), not a per-prefix one.
    expect(sent.slice(-2).map((s) => s.key)).toEqual([undefined, undefined]);
    expect(h.built.deps.affinity.prefixKey(off.id, { messages: [{ role: 'system', content: longSystem('Off') }] })).not.toBeNull();
    expect(h.built.deps.affinity.hint(h.built.deps.affinity.prefixKey(off.id, { messages: [{ role: 'system', content: longSystem('Off') }, { role: 'user', content: 'q' }] }) ?? '')).toBeNull();
  });
});
