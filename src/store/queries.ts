// Store operations written once against drizzle's Postgres dialect; both backends (postgres.js, PGlite) use them.
import { and, asc, count, desc, eq, gt, gte, inArray, isNull, lt, sql, type SQL } from 'drizzle-orm';
import type { LedgerEvent } from '../metering/ledger-event.js';
import type { Policy } from '../routing/policy.js';
import { type Db, toKey, toTenant } from './db.js';
import { hashKeySecret, keyPrefix, newId, newKeySecret } from './ids.js';
import type { ApiKeyRecord, Store, StoredResponse, Tenant } from './interface.js';
import { apiKeys, responses, tenantPolicies, tenants, usageLedger } from './schema.js';
import { createSpendQuery } from './spend-query.js';

/** Everything in Store except what depends on the driver (kind, migrate, ping, close), plus housekeeping. */
export type StoreQueries = Omit<Store, 'kind' | 'migrate' | 'ping' | 'close'> & {
  /** Deletes stored responses past their expiry (they are already invisible); returns how many. */
  purgeExpiredResponses(): Promise<number>;
};

/** Rows per INSERT statement: one parameter a row, far below Postgres' 65,535 parameter limit. */
const LEDGER_ROWS_PER_STATEMENT = 1000;
/** Rows the router's expected-output estimate looks at. */
const RECENT_OUTPUT_WINDOW = 200;

const tenantColumns = {
  id: tenants.id,
  name: tenants.name,
  disabled: tenants.disabled,
  policyVersion: tenants.policyVersion,
  createdAt: tenants.createdAt,
  policy: tenantPolicies.policy,
};
const keyColumns = {
  id: apiKeys.id,
  tenantId: apiKeys.tenantId,
  name: apiKeys.name,
  prefix: apiKeys.prefix,
  createdAt: apiKeys.createdAt,
  revokedAt: apiKeys.revokedAt,
};

/** Ledger columns in insert order: [event field, column, SQL type in the JSON record]. */
export const ledgerColumns = [
  ['requestId', 'request_id', 'text'],
  ['tenantId', 'tenant_id', 'text'],
  ['keyId', 'key_id', 'text'],
  ['endpoint', 'endpoint', 'text'],
  ['route', 'route', 'text'],
  ['provider', 'provider', 'text'],
  ['model', 'model', 'text'],
  ['stream', 'stream', 'boolean'],
  ['inputTokens', 'input_tokens', 'integer'],
  ['cachedInputTokens', 'cached_input_tokens', 'integer'],
  ['outputTokens', 'output_tokens', 'integer'],
  ['reasoningTokens', 'reasoning_tokens', 'integer'],
  ['usageSource', 'usage_source', 'text'],
  ['costPico', 'cost_pico', 'numeric(30,0)'],
  ['baselineCostPico', 'baseline_cost_pico', 'numeric(30,0)'],
  ['savedResponseCachePico', 'saved_response_cache_pico', 'numeric(30,0)'],
  ['savedPromptCachePico', 'saved_prompt_cache_pico', 'numeric(30,0)'],
  ['savedOffPeakPico', 'saved_off_peak_pico', 'numeric(30,0)'],
  ['priceVersion', 'price_version', 'text'],
  ['status', 'status', 'integer'],
  ['outcome', 'outcome', 'text'],
  ['errorCode', 'error_code', 'text'],
  ['cacheHit', 'cache_hit', 'boolean'],
  ['attempts', 'attempts', 'jsonb'],
  ['latencyMs', 'latency_ms', 'integer'],
  ['ttftMs', 'ttft_ms', 'integer'],
  ['startedAt', 'started_at', 'timestamptz'],
] as const satisfies readonly (readonly [keyof LedgerEvent, string, string])[];

/** Each column read from its place in a row's JSON array `j`: ->> gives the text (NULL for null), cast to the column's type. */
const ledgerRowFields = ledgerColumns
  .map(([, , t], i) => (t === 'jsonb' ? `j->${i}` : t === 'text' ? `j->>${i}` : `(j->>${i})::${t}`))
  .join(', ');
const LEDGER_INSERT_HEAD = `INSERT INTO usage_ledger (${ledgerColumns.map(([, c]) => c).join(', ')}) SELECT ${ledgerRowFields} FROM (VALUES `;
const LEDGER_INSERT_TAIL = ') AS v(j) ON CONFLICT (request_id) DO NOTHING';

/**
 * One multi-row INSERT, one parameter per row: each row's JSON array (ledgerRowJson, made when its request enqueued
 * the event) read field by field, money as decimal strings parsed by Postgres straight into NUMERIC (never a JS
 * number). Not one parameter for the whole batch: joined, the rows became one string that the driver flattened into
 * V8's large-object space at every flush, as many bytes again as the rows; a parameter per row is copied by the driver
 * straight into its send buffer. The text is written here, not through drizzle's query builder: for 500 rows that
 * took ~0.7 ms and ~1.3 MB of garbage per statement against ~0.03 ms and ~55 KB (docs/performance.md, seventh
 * session); 28 bound parameters per row through the builder, before rows, cost ~0.5 ms per row.
 */
export function ledgerInsertText(rows: number): string {
  let text = LEDGER_INSERT_HEAD;
  for (let i = 1; i <= rows; i++) text += i === 1 ? '($1::jsonb)' : `, ($${i}::jsonb)`;
  return text + LEDGER_INSERT_TAIL;
}

/**
 * Postgres text and jsonb cannot hold NUL; an upstream error message carrying one must not sink the whole batch. In
 * the JSON text a NUL is the escape \u0000 after an even run of backslashes (an odd run makes it literal text, an
 * escaped backslash followed by "u0000"). Stripped from the text once instead of through a replacer function, which
 * sends JSON.stringify down its slow path for every value of every row.
 */
const NUL_ESCAPE = /(?<!\\)((?:\\\\)*)\\u0000/g;

/**
 * One event's row as JSON text: what the ledger writer queues and spools (LedgerSink.encode) and the INSERT reads.
 * Postgres text and jsonb cannot hold NUL, so an escaped one is taken out here (NUL_ESCAPE).
 */
export function ledgerRowJson(ev: LedgerEvent): string {
  const json = JSON.stringify(ledgerRow(ev));
  // Nearly never there: a plain search first spares every row the regex.
  return json.includes('\\u0000') ? json.replace(NUL_ESCAPE, '$1') : json;
}

/** Where the INSERT reads a row's request id, tenant id and start time: checked on each line read back from a spool. */
const REQUEST_ID = ledgerColumns.findIndex(([f]) => f === 'requestId');
const TENANT_ID = ledgerColumns.findIndex(([f]) => f === 'tenantId');
const STARTED_AT = ledgerColumns.findIndex(([f]) => f === 'startedAt');

/**
 * A line read back as a row, as it is when it is one: a JSON array of the columns' length with a request id, a tenant
 * id and a start time. Throws on anything else, such as a line torn by a crash.
 */
export function ledgerRowFromLine(line: string): string {
  const row: unknown = JSON.parse(line);
  if (
    !Array.isArray(row) ||
    row.length !== ledgerColumns.length ||
    typeof row[REQUEST_ID] !== 'string' ||
    typeof row[TENANT_ID] !== 'string' ||
    typeof row[STARTED_AT] !== 'string' ||
    Number.isNaN(Date.parse(row[STARTED_AT]))
  ) {
    throw new Error('not a ledger row');
  }
  return line;
}

export function ledgerRowRequestId(row: string): string {
  return String((JSON.parse(row) as unknown[])[REQUEST_ID]);
}

/** A row keyed by column name, for a person reading the rejected file. */
export function ledgerRowReadable(row: string): string {
  const values = JSON.parse(row) as unknown[];
  return JSON.stringify(Object.fromEntries(ledgerColumns.map(([, column], i) => [column, values[i]])));
}

/**
 * The row of one event: its values in the order of `ledgerColumns`, money as decimal strings. An array, not an object
 * keyed by column: the keys were ~430 of a row's ~730 bytes, and a row lives in the old generation from its request
 * until its batch is written. Written out as one literal, like the object before it (built key by key from that list,
 * the object took V8's slow dictionary path); test/unit/ledger-row.test.ts holds each place to its column.
 */
export function ledgerRow(ev: LedgerEvent) {
  return [
    ev.requestId, // request_id
    ev.tenantId, // tenant_id
    ev.keyId, // key_id
    ev.endpoint, // endpoint
    ev.route, // route
    ev.provider, // provider
    ev.model, // model
    ev.stream, // stream
    ev.inputTokens, // input_tokens
    ev.cachedInputTokens, // cached_input_tokens
    ev.outputTokens, // output_tokens
    ev.reasoningTokens, // reasoning_tokens
    ev.usageSource, // usage_source
    ev.costPico.toString(), // cost_pico
    ev.baselineCostPico.toString(), // baseline_cost_pico
    ev.savedResponseCachePico.toString(), // saved_response_cache_pico
    ev.savedPromptCachePico.toString(), // saved_prompt_cache_pico
    ev.savedOffPeakPico.toString(), // saved_off_peak_pico
    ev.priceVersion, // price_version
    ev.status, // status
    ev.outcome, // outcome
    ev.errorCode, // error_code
    ev.cacheHit, // cache_hit
    ev.attempts, // attempts
    ev.latencyMs, // latency_ms
    ev.ttftMs, // ttft_ms
    ev.startedAt, // started_at
  ];
}

/** Bound of one batched key lookup (bind parameters stay far below Postgres' 65 535). */
const KEY_HASHES_PER_QUERY = 1000;

/** A statement with positional parameters ($1…), run by the driver itself (postgres.js unprepared, or PGlite). */
export type RawExecute = (text: string, params: string[]) => Promise<unknown>;

export function createStoreQueries(db: Db, execute: RawExecute): StoreQueries {
  async function insertLedgerRows(rows: readonly string[]): Promise<void> {
    for (let i = 0; i < rows.length; i += LEDGER_ROWS_PER_STATEMENT) {
      const batch = rows.slice(i, i + LEDGER_ROWS_PER_STATEMENT);
      await execute(ledgerInsertText(batch.length), batch);
    }
  }

  // Works on the database or inside a transaction (same query builder).
  const selectTenants = (q: Pick<Db, 'select'> = db) =>
    q
      .select(tenantColumns)
      .from(tenants)
      .innerJoin(
        tenantPolicies,
        and(eq(tenantPolicies.tenantId, tenants.id), eq(tenantPolicies.version, tenants.policyVersion)),
      );

  /** Keys that authenticate (not revoked, tenant not deleted) with their tenant at its current policy version. */
  const liveKeys = (which: SQL) =>
    db
      .select({ hash: apiKeys.hash, key: keyColumns, tenant: tenantColumns })
      .from(apiKeys)
      .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
      .innerJoin(tenantPolicies, and(eq(tenantPolicies.tenantId, tenants.id), eq(tenantPolicies.version, tenants.policyVersion)))
      .where(and(which, isNull(apiKeys.revokedAt), isNull(tenants.deletedAt)));

  async function getTenant(id: string): Promise<Tenant | null> {
    const rows = await selectTenants().where(and(eq(tenants.id, id), isNull(tenants.deletedAt)));
    return rows[0] ? toTenant(rows[0]) : null;
  }

  return {
    async createTenant({ name, policy }) {
      const id = newId('ten');
      await db.transaction(async (tx) => {
        await tx.insert(tenants).values({ id, name, policyVersion: 1 });
        await tx.insert(tenantPolicies).values({ tenantId: id, version: 1, policy });
      });
      const t = await getTenant(id);
      if (!t) throw new Error(`tenant ${id} vanished right after creation`);
      return t;
    },

    async listTenants() {
      const rows = await selectTenants().where(isNull(tenants.deletedAt)).orderBy(asc(tenants.createdAt), asc(tenants.id));
      return rows.map(toTenant);
    },

    getTenant,

    async updateTenant(id, patch) {
      const set: { name?: string; disabled?: boolean } = {};
      if (patch.name !== undefined) set.name = patch.name;
      if (patch.disabled !== undefined) set.disabled = patch.disabled;
      if (Object.keys(set).length > 0) {
        await db.update(tenants).set(set).where(and(eq(tenants.id, id), isNull(tenants.deletedAt)));
      }
      return getTenant(id);
    },

    async deleteTenant(id) {
      const rows = await db
        .update(tenants)
        .set({ deletedAt: new Date(), disabled: true })
        .where(and(eq(tenants.id, id), isNull(tenants.deletedAt)))
        .returning({ id: tenants.id });
      return rows.length > 0;
    },

    async putPolicy(tenantId, policy: Policy) {
      return db.transaction(async (tx) => {
        // Row lock: two concurrent PUTs get consecutive versions instead of a primary-key clash.
        const cur = await tx
          .select({ v: tenants.policyVersion })
          .from(tenants)
          .where(and(eq(tenants.id, tenantId), isNull(tenants.deletedAt)))
          .for('update');
        if (!cur[0]) return null;
        const version = cur[0].v + 1;
        await tx.insert(tenantPolicies).values({ tenantId, version, policy });
        await tx.update(tenants).set({ policyVersion: version }).where(eq(tenants.id, tenantId));
        // Read back inside the transaction: the caller gets the version it wrote, even if another PUT follows at once.
        const rows = await selectTenants(tx).where(eq(tenants.id, tenantId));
        return rows[0] ? toTenant(rows[0]) : null;
      });
    },

    async createKey(tenantId, name) {
      if (!(await getTenant(tenantId))) return null;
      const secret = newKeySecret();
      const rows = await db
        .insert(apiKeys)
        .values({ id: newId('key'), tenantId, name, prefix: keyPrefix(secret), hash: hashKeySecret(secret) })
        .returning(keyColumns);
      return { key: toKey(rows[0]), secret };
    },

    async listKeys(tenantId) {
      const rows = await db
        .select(keyColumns)
        .from(apiKeys)
        .where(eq(apiKeys.tenantId, tenantId))
        .orderBy(asc(apiKeys.createdAt), asc(apiKeys.id));
      return rows.map(toKey);
    },

    async revokeKey(id) {
      // coalesce keeps the first revocation time when a key is revoked twice.
      const rows = await db
        .update(apiKeys)
        .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
        .where(eq(apiKeys.id, id))
        .returning(keyColumns);
      return rows[0] ? toKey(rows[0]) : null;
    },

    async findKeyByHash(hash) {
      const rows = await liveKeys(eq(apiKeys.hash, hash));
      // Disabled tenants are returned on purpose: the HTTP layer answers 403 for them, not 401.
      return rows[0] ? { key: toKey(rows[0].key), tenant: toTenant(rows[0].tenant) } : null;
    },

    async findKeysByHash(hashes) {
      const found = new Map<string, { key: ApiKeyRecord; tenant: Tenant }>();
      for (let i = 0; i < hashes.length; i += KEY_HASHES_PER_QUERY) {
        const rows = await liveKeys(inArray(apiKeys.hash, hashes.slice(i, i + KEY_HASHES_PER_QUERY)));
        for (const r of rows) found.set(r.hash, { key: toKey(r.key), tenant: toTenant(r.tenant) });
      }
      return found;
    },

    insertLedger: (events) => insertLedgerRows(events.map(ledgerRowJson)),
    insertLedgerRows,

    spend: createSpendQuery(db),

    async tenantCostSince(tenantId, since) {
      const rows = await db
        .select({ total: sql<string>`coalesce(sum(${usageLedger.costPico}), 0)::text` })
        .from(usageLedger)
        .where(and(eq(usageLedger.tenantId, tenantId), gte(usageLedger.startedAt, since)));
      return BigInt(rows[0]?.total ?? '0');
    },

    async recentOutputAverage(tenantId) {
      // Chat and responses only: embeddings have no output and would drag the estimate to zero.
      const recent = db
        .select({ out: usageLedger.outputTokens })
        .from(usageLedger)
        .where(
          and(
            eq(usageLedger.tenantId, tenantId),
            eq(usageLedger.outcome, 'ok'),
            inArray(usageLedger.endpoint, ['chat', 'responses']),
          ),
        )
        .orderBy(desc(usageLedger.startedAt))
        .limit(RECENT_OUTPUT_WINDOW)
        .as('recent');
      const rows = await db
        .select({ avg: sql<string | null>`avg(${recent.out})::text`, n: count() })
        .from(recent);
      const avg = rows[0]?.avg;
      return avg === null || avg === undefined ? null : Number(avg);
    },

    async ledgerCount(filter) {
      const q = db.select({ n: count() }).from(usageLedger);
      const rows = filter?.tenantId ? await q.where(eq(usageLedger.tenantId, filter.tenantId)) : await q;
      return Number(rows[0]?.n ?? 0);
    },

    async saveResponse(r: StoredResponse) {
      // Never overwrite another tenant's response that happens to share the id.
      await db
        .insert(responses)
        .values({ id: r.id, tenantId: r.tenantId, body: r.body, createdAt: r.createdAt, expiresAt: r.expiresAt })
        .onConflictDoUpdate({
          target: responses.id,
          set: { body: r.body, expiresAt: r.expiresAt },
          setWhere: eq(responses.tenantId, r.tenantId),
        });
    },

    async getResponse(tenantId, id) {
      const rows = await db
        .select()
        .from(responses)
        .where(and(eq(responses.id, id), eq(responses.tenantId, tenantId), gt(responses.expiresAt, sql`now()`)));
      return rows[0] ?? null;
    },

    async purgeExpiredResponses() {
      const rows = await db.delete(responses).where(lt(responses.expiresAt, sql`now()`)).returning({ id: responses.id });
      return rows.length;
    },

    async deleteResponse(tenantId, id) {
      const rows = await db
        .delete(responses)
        .where(and(eq(responses.id, id), eq(responses.tenantId, tenantId), gt(responses.expiresAt, sql`now()`)))
        .returning({ id: responses.id });
      return rows.length > 0;
    },
  };
}
