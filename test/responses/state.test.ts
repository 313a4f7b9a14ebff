// store / previous_response_id helpers: what is persisted, how the next turn's conversation is rebuilt, tenant scoping.
import { describe, expect, it } from 'vitest';
import { isGatewayError } from '../../src/errors.js';
import type { StoredResponse } from '../../src/store/interface.js';
import { chatToResponse } from '../../src/responses/from-chat.js';
import { buildHistory, defaultRetentionMs, loadHistory, readStored, storedResponseObject, toStored } from '../../src/responses/state.js';
import { inputItems, responsesToChat } from '../../src/responses/to-chat.js';
import { completion, ctxFor, req } from './fixtures.js';

/** The Store seam's two response reads, in memory, scoped by tenant like the real one must be. */
function memoryStore(rows: StoredResponse[]) {
  return {
    async getResponse(tenantId: string, id: string): Promise<StoredResponse | null> {
      return rows.find((r) => r.tenantId === tenantId && r.id === id) ?? null;
    },
  };
}

function turnOne() {
  const body = { instructions: 'You are a weather bot.', input: 'Weather in Paris?', tools: [{ type: 'function', name: 'get_weather' }] };
  const ctx = ctxFor(body, { id: 'resp_turn1' });
  const response = chatToResponse(
    completion({ content: null, reasoning_content: 'Need the tool.', tool_calls: [{ id: 'call_p', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] }, 'tool_calls'),
    ctx,
  );
  const stored = toStored({ tenantId: 'tenant-a', response, input: inputItems(ctx.req), history: [], now: new Date('2026-11-01T00:00:00Z') });
  return { response, stored };
}

describe('toStored / buildHistory', () => {
  it('keeps the response, its input items and its history; expires after the retention period', () => {
    const { response, stored } = turnOne();
    expect(stored).toMatchObject({ id: 'resp_turn1', tenantId: 'tenant-a', createdAt: new Date('2026-11-01T00:00:00Z') });
    expect(stored.expiresAt.getTime() - stored.createdAt.getTime()).toBe(defaultRetentionMs);
    expect(defaultRetentionMs).toBe(30 * 24 * 3600 * 1000);
    // A round trip through JSON (what a jsonb column does) must not lose anything.
    const roundTripped = { body: JSON.parse(JSON.stringify(stored.body)) as unknown };
    expect(storedResponseObject(roundTripped)).toEqual(response);
    expect(readStored(roundTripped).input).toEqual([{ type: 'message', role: 'user', content: 'Weather in Paris?' }]);
  });

  it('history = previous history + previous input + previous output (as input items), instructions excluded', () => {
    const { response, stored } = turnOne();
    const history = buildHistory(stored);
    expect(history).toEqual([
      { type: 'message', role: 'user', content: 'Weather in Paris?' },
      { type: 'reasoning', id: response.output[0]?.id, summary: [{ type: 'summary_text', text: 'Need the tool.' }] },
      { type: 'function_call', id: response.output[1]?.id, call_id: 'call_p', name: 'get_weather', arguments: '{"city":"Paris"}' },
    ]);
  });

  it('a third turn sees all earlier turns in order', () => {
    const { stored: s1 } = turnOne();
    const ctx2 = ctxFor({ previous_response_id: 'resp_turn1', input: [{ type: 'function_call_output', call_id: 'call_p', output: '18C' }] }, { id: 'resp_turn2' });
    const r2 = chatToResponse(completion({ content: 'It is 18C.' }), ctx2);
    const s2 = toStored({ tenantId: 'tenant-a', response: r2, input: inputItems(ctx2.req), history: buildHistory(s1) });
    const chat = responsesToChat(req({ input: 'And tomorrow?' }), buildHistory(s2));
    expect(chat.messages).toEqual([
      { role: 'user', content: 'Weather in Paris?' },
      {
        role: 'assistant',
        content: null,
        reasoning_content: 'Need the tool.',
        tool_calls: [{ id: 'call_p', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
      },
      { role: 'tool', tool_call_id: 'call_p', content: '18C' },
      { role: 'assistant', content: 'It is 18C.' },
      { role: 'user', content: 'And tomorrow?' },
    ]);
  });

  it('readStored refuses a body that is not one of ours', () => {
    expect(() => readStored({ body: { hello: 'world' } })).toThrow();
  });
});

describe('loadHistory', () => {
  it('returns [] without previous_response_id and the history with one', async () => {
    const { stored } = turnOne();
    const store = memoryStore([stored]);
    expect(await loadHistory(store, 'tenant-a', undefined)).toEqual([]);
    expect(await loadHistory(store, 'tenant-a', 'resp_turn1', new Date('2026-11-02T00:00:00Z'))).toHaveLength(3);
  });

  it.each([
    { name: 'another tenant', tenant: 'tenant-b', id: 'resp_turn1', at: '2026-11-02T00:00:00Z' },
    { name: 'an unknown id', tenant: 'tenant-a', id: 'resp_nope', at: '2026-11-02T00:00:00Z' },
    { name: 'an expired response', tenant: 'tenant-a', id: 'resp_turn1', at: '2026-12-01T00:00:01Z' },
  ])('404 previous_response_not_found for $name', async ({ tenant, id, at }) => {
    const { stored } = turnOne();
    let caught: unknown;
    try {
      await loadHistory(memoryStore([stored]), tenant, id, new Date(at));
    } catch (e) {
      caught = e;
    }
    if (!isGatewayError(caught)) throw new Error('expected a GatewayError');
    expect(caught.status).toBe(404);
    expect(caught.toBody().error).toEqual({
      message: `Previous response with id '${id}' not found.`,
      type: 'invalid_request_error',
      param: 'previous_response_id',
      code: 'previous_response_not_found',
    });
  });
});
