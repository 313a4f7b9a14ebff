// Brute force on virtual keys is slowed: failed authentications per client address per minute, then 429 for a while.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.js';
import { fuzzServer } from '../fuzz/support.js';

/** Generous: the suite shares a 2-core machine with other integration suites; nothing here asserts durations. */
const SLOW = { timeout: 180_000 };

let h: Harness;
let key = '';
let now = new Date('2026-11-25T12:00:00Z').getTime();
const LIMIT = 5;

beforeAll(async () => {
  h = await startHarness({ clock: () => new Date(now), overrides: { server: { ...fuzzServer, auth_failures_per_minute: LIMIT } } });
  key = (await h.createTenant('brute')).key;
}, 180_000);
afterAll(async () => h?.close(), 60_000);

const models = (k: string) => fetch(`${h.baseURL}/models`, { headers: { authorization: `Bearer ${k}` } });

describe('failed-auth limit per client address', SLOW, () => {
  it(`after ${LIMIT} wrong keys: 429 with retry-after, for right keys too, until the window passes`, async () => {
    for (let i = 0; i < LIMIT; i++) expect((await models(`tg_guess${i}${'x'.repeat(40)}`)).status).toBe(401);
    const blocked = await models('tg_guess-next');
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    const body = (await blocked.json()) as { error: Record<string, unknown> };
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    // A right guess is not told apart from a wrong one while blocked.
    expect((await models(key)).status).toBe(429);
    // Guesses that cannot be keys (no tg_ prefix) count as failures too: no cheaper probing path.
    now += 61_000;
    expect((await models(key)).status).toBe(200);
    for (let i = 0; i < LIMIT; i++) expect((await models(`sk-not-ours-${i}`)).status).toBe(401);
    expect((await models(key)).status).toBe(429);
  });
});
