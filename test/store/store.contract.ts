// The Store contract suite: every backend (postgres.js on the real server, PGlite in memory and on disk) runs it.
import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LedgerEvent } from '../../src/metering/ledger-event.js';
import { policySchema } from '../../src/routing/policy.js';
import type { SqlStore } from '../../src/store/db.js';
import type { SpendGroupKey, SpendRow } from '../../src/store/interface.js';
import { usageLedger } from '../../src/store/schema.js';
import { dumpDatabase, ledgerEvent, rawRows } from './fixtures.js';

export interface StoreHarness {
  store: SqlStore;
  cleanup: () => Promise<void>;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const defaultPolicy = () => policySchema.parse({});
const DAY = 86_400_000;

/** Expected groups computed here, independently of the SQL: BigInt sums keyed by the chosen dimensions. */
function expectedSpend(events: readonly LedgerEvent[], groupBy: SpendGroupKey[]): Map<string, { requests: number; cost: bigint; baseline: bigint; output: number }> {
  const dim = (e: LedgerEvent, k: SpendGroupKey): string =>
    ({
      day: e.startedAt.toISOString().slice(0, 10),
      tenant: e.tenantId,
      key: e.keyId ?? '',
      provider: e.provider ?? '',
      model: e.model ?? '',
      route: e.route ?? '',
      endpoint: e.endpoint,
    })[k];
  const m = new Map<string, { requests: number; cost: bigint; baseline: bigint; output: number }>();
  for (const e of events) {
    const k = groupBy.map((g) => dim(e, g)).join('|');
    const cur = m.get(k) ?? { requests: 0, cost: 0n, baseline: 0n, output: 0 };
    cur.requests += 1;
    cur.cost += e.costPico;
    cur.baseline += e.baselineCostPico;
    cur.output += e.outputTokens;
    m.set(k, cur);
  }
  return m;
}

function actualSpend(rows: SpendRow[], groupBy: SpendGroupKey[]) {
  return new Map(
    rows.map((r) => [
      groupBy.map((g) => r.group[g] ?? '').join('|'),
      { requests: r.requests, cost: r.costPico, baseline: r.baselineCostPico, output: r.outputTokens },
    ]),
  );
}

export function runStoreContract(name: string, open: () => Promise<StoreHarness>): void {
  describe(`Store contract: ${name}`, () => {
    let h: StoreHarness;
    let store: SqlStore;
    // PGlite compiles its WASM at start: seconds on a quiet machine, much longer on a loaded CI runner.
    beforeAll(async () => {
      h = await open();
      store = h.store;
      await store.migrate();
    }, 180_000);
    afterAll(async () => {
      await h?.cleanup();
    });

    it('migrates idempotently and answers ping', async () => {
      await store.migrate();
      await store.ping();
      const rows = await rawRows(store, sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
      expect(Number(rows[0].n)).toBeGreaterThanOrEqual(2);
    });

    it('creates, lists, updates and soft-deletes tenants', async () => {
      const a = await store.createTenant({ name: 'Acme', policy: defaultPolicy() });
      expect(a.id).toMatch(/^ten_[A-Za-z0-9_-]{20,}$/);
      expect(a).toMatchObject({ name: 'Acme', disabled: false, policyVersion: 1 });
      expect(a.createdAt).toBeInstanceOf(Date);
      const b = await store.createTenant({ name: 'Beta', policy: defaultPolicy() });
      expect(b.id).not.toBe(a.id);
      expect((await store.listTenants()).map((t) => t.id)).toEqual(expect.arrayContaining([a.id, b.id]));
      expect(await store.getTenant(a.id)).toEqual(a);
      const renamed = await store.updateTenant(a.id, { name: 'Acme Corp', disabled: true });
      expect(renamed).toMatchObject({ id: a.id, name: 'Acme Corp', disabled: true });
      expect(await store.getTenant('ten_missing')).toBeNull();
      expect(await store.updateTenant('ten_missing', { name: 'x' })).toBeNull();

      expect(await store.deleteTenant(b.id)).toBe(true);
      expect(await store.deleteTenant(b.id)).toBe(false);
      expect(await store.getTenant(b.id)).toBeNull();
      expect(await store.updateTenant(b.id, { name: 'ghost' })).toBeNull();
      expect((await store.listTenants()).map((t) => t.id)).not.toContain(b.id);
    });

    it('versions policies and validates them on read', async () => {
      const t = await store.createTenant({ name: 'Policy Co', policy: defaultPolicy() });
      const p2 = policySchema.parse({ baseline_model: 'gpt-4.1', routes: { cheap: { strategy: 'cheapest' } } });
      const v2 = await store.putPolicy(t.id, p2);
      expect(v2?.policyVersion).toBe(2);
      expect(v2?.policy).toEqual(p2);
      expect((await store.getTenant(t.id))?.policy.baseline_model).toBe('gpt-4.1');
      // Concurrent writers get distinct consecutive versions.
      const results = await Promise.all([1, 2, 3, 4].map((i) => store.putPolicy(t.id, policySchema.parse({ expected_output_tokens: 100 + i }))));
      expect(results.map((r) => r?.policyVersion).sort()).toEqual([3, 4, 5, 6]);
      const cur = await store.getTenant(t.id);
      expect(cur?.policyVersion).toBe(6);
      const last = results.find((r) => r?.policyVersion === 6);
      expect(cur?.policy).toEqual(last?.policy);
      const versions = await rawRows(store, sql`select version from tenant_policies where tenant_id = ${t.id} order by version`);
      expect(versions.map((r) => Number(r.version))).toEqual([1, 2, 3, 4, 5, 6]);
      expect(await store.putPolicy('ten_missing', p2)).toBeNull();
      // A stored policy that no longer validates is an error, not a silently wrong route.
      await store.db.execute(sql`update tenant_policies set policy = '{"routes": 5}'::jsonb where tenant_id = ${t.id} and version = 6`);
      await expect(store.getTenant(t.id)).rejects.toThrow();
      await store.db.execute(sql`update tenants set policy_version = 5 where id = ${t.id}`);
      expect((await store.getTenant(t.id))?.policyVersion).toBe(5);
    });

    it('creates keys whose secret is stored nowhere, finds them by hash, revokes them', async () => {
      const t = await store.createTenant({ name: 'Keys Inc', policy: defaultPolicy() });
      const created = await store.createKey(t.id, 'ci');
      expect(created).not.toBeNull();
      const { key, secret } = created!;
      expect(secret).toMatch(/^tg_[A-Za-z0-9_-]{32,}$/);
      expect(key.id).toMatch(/^key_[A-Za-z0-9_-]{20,}$/);
      expect(secret.startsWith(key.prefix)).toBe(true);
      expect(key.prefix.length).toBeLessThan(12);
      expect(key).toMatchObject({ tenantId: t.id, name: 'ci', revokedAt: null });

      const dump = await dumpDatabase(store);
      expect(dump).toContain(sha256(secret));
      expect(dump).not.toContain(secret);
      expect(dump).not.toContain(secret.slice(key.prefix.length));

      const found = await store.findKeyByHash(sha256(secret));
      expect(found?.key.id).toBe(key.id);
      expect(found?.tenant.id).toBe(t.id);
      expect(await store.findKeyByHash(sha256(`${secret}x`))).toBeNull();

      const other = await store.createKey(t.id, 'other');
      expect((await store.listKeys(t.id)).map((k) => k.id)).toEqual([key.id, other!.key.id]);

      const revoked = await store.revokeKey(key.id);
      expect(revoked?.revokedAt).toBeInstanceOf(Date);
      expect(await store.findKeyByHash(sha256(secret))).toBeNull();
      const again = await store.revokeKey(key.id);
      expect(again?.revokedAt?.getTime()).toBe(revoked?.revokedAt?.getTime());
      expect(await store.revokeKey('key_missing')).toBeNull();
      expect((await store.listKeys(t.id)).find((k) => k.id === key.id)?.revokedAt).toBeInstanceOf(Date);
      expect(await store.findKeyByHash(sha256(other!.secret))).not.toBeNull();

      // The batched lookup: live keys only, keyed by hash; unknown and revoked hashes are simply absent.
      const many = await store.findKeysByHash([sha256(secret), sha256(other!.secret), sha256('tg_unknown')]);
      expect([...many.keys()]).toEqual([sha256(other!.secret)]);
      expect(many.get(sha256(other!.secret))?.key.id).toBe(other!.key.id);
      expect(many.get(sha256(other!.secret))?.tenant.id).toBe(t.id);
      expect((await store.findKeysByHash([])).size).toBe(0);
      // Past one query's bound (1000 hashes): the key at the end is still found.
      const padded = [...Array.from({ length: 1200 }, (_, i) => sha256(`tg_none_${i}`)), sha256(other!.secret)];
      expect([...(await store.findKeysByHash(padded)).keys()]).toEqual([sha256(other!.secret)]);
    });

    it('returns disabled tenants on key lookup but not deleted ones', async () => {
      const t = await store.createTenant({ name: 'Dis', policy: defaultPolicy() });
      const { secret } = (await store.createKey(t.id, 'k'))!;
      await store.updateTenant(t.id, { disabled: true });
      expect((await store.findKeyByHash(sha256(secret)))?.tenant.disabled).toBe(true);
      await store.deleteTenant(t.id);
      expect(await store.findKeyByHash(sha256(secret))).toBeNull();
      expect(await store.createKey(t.id, 'late')).toBeNull();
      expect(await store.createKey('ten_missing', 'x')).toBeNull();
    });

    it('writes a batch larger than one statement takes (1 000 rows), every row once with exact money', async () => {
      const tenantId = 'ten_ledger_big';
      const evs = Array.from({ length: 1_203 }, (_, i) => ledgerEvent({ tenantId, costPico: 10_000_000_000_000_000_001n + BigInt(i) }));
      await store.insertLedger(evs);
      expect(await store.ledgerCount({ tenantId })).toBe(1_203);
      await store.insertLedger(evs.slice(995, 1_010)); // across the statement boundary again: ignored
      expect(await store.ledgerCount({ tenantId })).toBe(1_203);
      const [row] = await rawRows(store, sql`select sum(cost_pico)::text as total from usage_ledger where tenant_id = ${tenantId}`);
      expect(BigInt(String(row.total))).toBe(evs.reduce((s, e) => s + e.costPico, 0n));
    });

    it('stores every ledger field and ignores replayed request ids', async () => {
      const tenantId = 'ten_ledger_idem';
      const ev = ledgerEvent({ tenantId, ttftMs: 42, errorCode: 'x', costPico: 9_007_199_254_740_993n, startedAt: new Date('2026-11-02T03:04:05.678Z') });
      await store.insertLedger([ev]);
      const [row] = await store.db.select().from(usageLedger).where(sql`${usageLedger.requestId} = ${ev.requestId}`);
      const { recordedAt, ...stored } = row;
      expect(recordedAt).toBeInstanceOf(Date);
      expect(stored).toEqual(ev);

      const nul = ledgerEvent({ tenantId, errorCode: 'bad\0code', attempts: [{ provider: 'openai', model: 'gpt-4o', status: null, error: 'reset\0by peer', latencyMs: 5 }] });
      await store.insertLedger([nul]);
      const [nulRow] = await store.db.select().from(usageLedger).where(sql`${usageLedger.requestId} = ${nul.requestId}`);
      expect(nulRow.errorCode).toBe('badcode');
      expect(nulRow.attempts).toEqual([{ provider: 'openai', model: 'gpt-4o', status: null, error: 'resetby peer', latencyMs: 5 }]);
      // A backslash next to a NUL, and the six characters \u0000 as text, come through as they were (NUL aside).
      const near = ledgerEvent({ tenantId, errorCode: 'a\\\0b \\u0000 c\\\\\0d' });
      await store.insertLedger([near]);
      const [nearRow] = await store.db.select().from(usageLedger).where(sql`${usageLedger.requestId} = ${near.requestId}`);
      expect(nearRow.errorCode).toBe('a\\b \\u0000 c\\\\d');
      const more = [nul, ledgerEvent({ tenantId }), ledgerEvent({ tenantId })];
      await store.insertLedger([ev, ...more, more[0]]);
      await store.insertLedger([...more, ev]);
      await store.insertLedger([]);
      expect(await store.ledgerCount({ tenantId })).toBe(5);
      // The daily rollup counted each request once too.
      const day = await store.spend({ from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-12-01T00:00:00Z'), tenantId, groupBy: [] });
      expect(day).toHaveLength(1);
      expect(day[0].requests).toBe(5);
      expect(day[0].costPico).toBe(ev.costPico + more[0].costPico + more[1].costPico + more[2].costPico + near.costPico);
    });

    it('sums spend exactly, grouped any way, from the rollup and from the raw ledger alike', async () => {
      const tenants = ['ten_spend_a', 'ten_spend_b'];
      const providers = [['deepseek', 'deepseek-flash'], ['openai', 'gpt-4o-mini'], ['gemini', 'gemini-2.5-flash']] as const;
      const events: LedgerEvent[] = [];
      for (let i = 0; i < 1200; i++) {
        const [provider, model] = providers[i % 3];
        events.push(
          ledgerEvent({
            tenantId: tenants[i % 2],
            keyId: i % 5 === 0 ? null : `key_${i % 4}`,
            provider,
            model,
            route: i % 7 === 0 ? null : 'auto',
            endpoint: i % 11 === 0 ? 'embeddings' : 'chat',
            // 0.1 USD + a few pico: a float sum of these drifts; one huge value exceeds 2^53 pico.
            costPico: i === 17 ? 2n ** 60n + 3n : 100_000_000_000n + BigInt(i % 13),
            baselineCostPico: 300_000_000_001n,
            outputTokens: i,
            outcome: i % 9 === 0 ? 'error' : 'ok',
            startedAt: new Date(Date.UTC(2026, 9, 1 + (i % 10), i % 24, i % 60, 7)),
          }),
        );
      }
      for (let i = 0; i < events.length; i += 250) await store.insertLedger(events.slice(i, i + 250));

      const from = new Date('2026-10-01T00:00:00Z');
      const to = new Date('2026-10-11T00:00:00Z');
      const total = events.reduce((s, e) => s + e.costPico, 0n);
      const groupings: SpendGroupKey[][] = [[], ['day'], ['tenant', 'provider', 'model'], ['day', 'tenant', 'key'], ['route', 'endpoint']];
      // Partial days at both ends: edges from the raw ledger, the days between from the rollup.
      const oddFrom = new Date('2026-10-02T05:30:00Z');
      const oddTo = new Date('2026-10-09T17:45:00Z');
      const inOdd = events.filter((e) => e.startedAt >= oddFrom && e.startedAt < oddTo);
      for (const groupBy of groupings) {
        const whole = await store.spend({ from, to, groupBy });
        const hybrid = await store.spend({ from: new Date(from.getTime() - 1), to, groupBy });
        expect(actualSpend(whole, groupBy)).toEqual(expectedSpend(events, groupBy));
        expect(hybrid).toEqual(whole);
        expect(whole.reduce((s, r) => s + r.costPico, 0n)).toBe(total);
        expect(actualSpend(await store.spend({ from: oddFrom, to: oddTo, groupBy }), groupBy)).toEqual(expectedSpend(inOdd, groupBy));
        // Rows come sorted by their group values, absent values last.
        const keys = whole.map((r) => groupBy.map((g) => r.group[g] ?? '\uffff').join('\u0000'));
        expect(keys).toEqual([...keys].sort());
      }
      // Less than a day: raw ledger only.
      const short = { from: new Date('2026-10-04T01:00:00Z'), to: new Date('2026-10-04T23:00:00Z') };
      const inShort = events.filter((e) => e.startedAt >= short.from && e.startedAt < short.to);
      expect(actualSpend(await store.spend({ ...short, groupBy: ['provider'] }), ['provider'])).toEqual(expectedSpend(inShort, ['provider']));
      const errs = (await store.spend({ from, to, groupBy: [] }))[0];
      expect(errs.errors).toBe(events.filter((e) => e.outcome === 'error').length);
      // Null dimensions are absent from the group, not the string "null".
      const byKey = await store.spend({ from, to, groupBy: ['key'] });
      expect(byKey.some((r) => r.group.key === undefined)).toBe(true);

      // Tenant filter and a partial-day range (raw ledger path) against an independent filter.
      const mid = new Date('2026-10-03T12:00:00Z');
      const onlyA = events.filter((e) => e.tenantId === 'ten_spend_a' && e.startedAt >= from && e.startedAt < mid);
      const got = await store.spend({ from, to: mid, tenantId: 'ten_spend_a', groupBy: ['day', 'model'] });
      expect(actualSpend(got, ['day', 'model'])).toEqual(expectedSpend(onlyA, ['day', 'model']));
      expect(await store.spend({ from: to, to: new Date(to.getTime() + DAY), groupBy: ['day'] })).toEqual([]);
      expect(await store.spend({ from: to, to: from, groupBy: [] })).toEqual([]);

      expect(await store.tenantCostSince('ten_spend_b', mid)).toBe(
        events.filter((e) => e.tenantId === 'ten_spend_b' && e.startedAt >= mid).reduce((s, e) => s + e.costPico, 0n),
      );
      expect(await store.tenantCostSince('ten_nobody', from)).toBe(0n);
      expect(await store.ledgerCount({ tenantId: 'ten_spend_a' })).toBe(600);
      expect(await store.ledgerCount()).toBeGreaterThanOrEqual(1200);
    });

    it('averages recent output tokens of successful chat requests', async () => {
      const tenantId = 'ten_recent_out';
      expect(await store.recentOutputAverage(tenantId)).toBeNull();
      const base = Date.UTC(2026, 10, 20);
      const old = Array.from({ length: 50 }, (_, i) => ledgerEvent({ tenantId, outputTokens: 10_000, startedAt: new Date(base + i) }));
      const recent = Array.from({ length: 200 }, (_, i) => ledgerEvent({ tenantId, outputTokens: 100 + (i % 3), startedAt: new Date(base + 1000 + i) }));
      const noise = [
        ledgerEvent({ tenantId, endpoint: 'embeddings', outputTokens: 0, startedAt: new Date(base + 5000) }),
        ledgerEvent({ tenantId, outcome: 'error', outputTokens: 0, startedAt: new Date(base + 5001) }),
      ];
      await store.insertLedger([...old, ...recent, ...noise]);
      const expected = recent.reduce((s, e) => s + e.outputTokens, 0) / recent.length;
      expect(await store.recentOutputAverage(tenantId)).toBeCloseTo(expected, 6);
    });

    it('keeps stored responses per tenant and hides expired ones', async () => {
      const now = Date.now();
      const body = { id: 'resp_1', object: 'response', output: [{ type: 'message', content: [{ type: 'output_text', text: 'héllo "x"' }] }] };
      const r = { id: `resp_${now}`, tenantId: 'ten_resp_a', body, createdAt: new Date(now), expiresAt: new Date(now + 3_600_000) };
      await store.saveResponse(r);
      expect(await store.getResponse('ten_resp_a', r.id)).toEqual(r);
      expect(await store.getResponse('ten_resp_b', r.id)).toBeNull();
      expect(await store.deleteResponse('ten_resp_b', r.id)).toBe(false);
      // Another tenant saving the same id cannot overwrite it.
      await store.saveResponse({ ...r, tenantId: 'ten_resp_b', body: { evil: true } });
      expect((await store.getResponse('ten_resp_a', r.id))?.body).toEqual(body);
      expect(await store.getResponse('ten_resp_b', r.id)).toBeNull();

      const expired = { ...r, id: `resp_old_${now}`, expiresAt: new Date(now - 1000) };
      await store.saveResponse(expired);
      expect(await store.getResponse('ten_resp_a', expired.id)).toBeNull();
      expect(await store.purgeExpiredResponses()).toBeGreaterThanOrEqual(1);
      expect(await rawRows(store, sql`select id from responses where id = ${expired.id}`)).toEqual([]);
      expect(await store.getResponse('ten_resp_a', r.id)).toEqual(r);
      expect(await store.deleteResponse('ten_resp_a', r.id)).toBe(true);
      expect(await store.getResponse('ten_resp_a', r.id)).toBeNull();
      expect(await store.deleteResponse('ten_resp_a', r.id)).toBe(false);
    });
  });
}
