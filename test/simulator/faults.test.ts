// Fault injection over real HTTP: every fault type, the three ways to choose one, the control API, and client aborts.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { countTokens } from '../../src/metering/tokens.js';
import { startSimulator, type Simulator } from '../../src/simulator/index.js';
import { deepseek, eventually, gemini, jsonEvents, openai, parseSse, post } from './helpers.js';

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(() => sim.close());
beforeEach(() => {
  sim.reset();
  sim.clearFaults();
});

const chat = (content = 'hello', extra: Record<string, unknown> = {}) => ({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], ...extra });
const gem = (text = 'hello') => ({ contents: [{ role: 'user', parts: [{ text }] }] });
const lastRecord = () =>
  eventually(() => {
    const r = sim.records().at(-1);
    if (!r) throw new Error('no record yet');
    return r;
  });

/** Reads a body until the connection breaks; returns what arrived and whether it broke. */
async function readUntilBroken(res: Response): Promise<{ text: string; broken: boolean }> {
  const reader = res.body!.getReader();
  const dec = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { text, broken: false };
      text += dec.decode(value, { stream: true });
    }
  } catch {
    return { text, broken: true };
  }
}

describe('status faults', () => {
  it('OpenAI 429 with Retry-After, applied `times` times then gone', async () => {
    sim.setFaults([{ provider: 'openai', fault: { type: 'status', status: 429, retryAfterS: 2 }, times: 1 }]);
    const res = await openai(sim, chat());
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('2');
    expect((await res.json()).error).toMatchObject({ code: 'rate_limit_exceeded', type: 'requests' });
    expect((await lastRecord()).fault).toBe('status:429:2');
    expect((await openai(sim, chat())).status).toBe(200);
  });

  it('Gemini 429 RESOURCE_EXHAUSTED with RetryInfo.retryDelay; rules match by model', async () => {
    sim.setFaults([{ provider: 'gemini', model: 'gemini-2.5-pro', fault: { type: 'status', status: 429, retryAfterS: 7 } }]);
    expect((await gemini(sim, 'gemini-2.5-flash', gem())).status).toBe(200);
    const res = await gemini(sim, 'gemini-2.5-pro', gem());
    expect(res.status).toBe(429);
    const err = (await res.json()).error;
    expect(err.status).toBe('RESOURCE_EXHAUSTED');
    expect(err.details[0]).toMatchObject({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '7s' });
  });

  it('DeepSeek 503 chosen by a marker in the last user message, OpenAI 500 by the x-sim-fault header', async () => {
    const ds = await deepseek(sim, { model: 'deepseek-flash', messages: [{ role: 'user', content: 'x [[sim:fault=status:503]]' }] });
    expect(ds.status).toBe(503);
    expect((await ds.json()).error.type).toBe('server_error');
    const oa = await openai(sim, chat(), { 'x-sim-fault': 'status:500' });
    expect(oa.status).toBe(500);
    expect(sim.records().map((r) => r.fault)).toEqual(['status:503', 'status:500']);
  });

  it('auth fault answers as if the key were bad', async () => {
    const oa = await openai(sim, chat('[[sim:fault=auth]]'));
    expect(oa.status).toBe(401);
    expect((await oa.json()).error.code).toBe('invalid_api_key');
    const g = await gemini(sim, 'gemini-2.5-flash', gem('[[sim:fault=auth]]'));
    expect(g.status).toBe(400);
    expect((await g.json()).error.details[0].reason).toBe('API_KEY_INVALID');
  });
});

describe('connection faults', () => {
  it('reset destroys the socket before any byte', async () => {
    sim.setFaults([{ fault: { type: 'reset' } }]);
    await expect(openai(sim, chat())).rejects.toThrow();
    expect(await lastRecord()).toMatchObject({ status: 0, fault: 'reset', completionTokens: 0 });
  });

  it('hang never answers; the record says aborted once the client gives up', async () => {
    const ctl = new AbortController();
    const pending2 = fetch(`${sim.baseUrls.deepseek}/chat/completions`, {
      method: 'POST',
      headers: { authorization: 'Bearer sk-sim-deepseek' },
      body: JSON.stringify({ model: 'deepseek-flash', messages: [{ role: 'user', content: '[[sim:fault=hang]]' }] }),
      signal: ctl.signal,
    }).catch((e: unknown) => e);
    // Give the request time to reach the simulator (not a timing assertion: any delay works once it has arrived).
    await new Promise((r) => setTimeout(r, 300));
    expect(sim.records()).toHaveLength(0);
    ctl.abort();
    expect(await pending2).toBeInstanceOf(Error);
    const rec = await lastRecord();
    expect(rec).toMatchObject({ provider: 'deepseek', fault: 'hang', aborted: true, status: 0 });
  });

  it('delay still answers normally and records the fault', async () => {
    const res = await openai(sim, chat('[[sim:fault=delay:30]]'));
    expect(res.status).toBe(200);
    expect((await lastRecord()).fault).toBe('delay:30');
  });

  it('cut destroys a stream after N chunks (no [DONE]) and records the tokens written', async () => {
    sim.setFaults([{ provider: 'openai', fault: { type: 'cut', afterChunks: 4 } }]);
    const res = await openai(sim, chat('cut me', { stream: true }));
    expect(res.status).toBe(200);
    const { text, broken } = await readUntilBroken(res);
    expect(broken).toBe(true);
    const s = parseSse(text);
    expect(s.data).toHaveLength(4);
    expect(s.data).not.toContain('[DONE]');
    const written = jsonEvents(s).reduce((n, c) => n + countTokens(((c.choices as Array<{ delta: { content?: string } }>)[0].delta.content ?? '')), 0);
    expect(await lastRecord()).toMatchObject({ fault: 'cut:4', completionTokens: written, aborted: false });
  });

  it('cut on a non-stream answer sends half a body and drops the connection', async () => {
    const res = await gemini(sim, 'gemini-2.5-flash', gem('[[sim:fault=cut:0]]'));
    expect(res.status).toBe(200);
    expect((await readUntilBroken(res)).broken).toBe(true);
  });

  it('error_event sends an in-stream error and ends the stream, OpenAI and Gemini', async () => {
    const oa = parseSse(await (await openai(sim, chat('[[sim:fault=error_event:2]]', { stream: true }))).text());
    expect(oa.data).toHaveLength(3);
    expect(JSON.parse(oa.data[2]).error.message).toBeTruthy();
    expect(oa.data).not.toContain('[DONE]');
    const g = parseSse(await (await gemini(sim, 'gemini-2.5-flash', gem('[[sim:fault=error_event:1]]'), true)).text());
    expect(g.data).toHaveLength(2);
    expect(JSON.parse(g.data[1]).error).toMatchObject({ code: 500, status: 'INTERNAL' });
    expect((await lastRecord()).fault).toBe('error_event:1');
  });
});

describe('control endpoints', () => {
  it('PUT/DELETE /__sim/faults and GET/DELETE /__sim/records', async () => {
    const put = await fetch(`${sim.url}/__sim/faults`, { method: 'PUT', body: JSON.stringify([{ provider: 'openai', fault: { type: 'status', status: 502 } }]) });
    expect(put.status).toBe(204);
    expect((await openai(sim, chat())).status).toBe(502);
    expect((await fetch(`${sim.url}/__sim/faults`, { method: 'DELETE' })).status).toBe(204);
    expect((await openai(sim, chat())).status).toBe(200);
    const bad = await fetch(`${sim.url}/__sim/faults`, { method: 'PUT', body: JSON.stringify([{ fault: { type: 'explode' } }]) });
    expect(bad.status).toBe(400);
    const records = await (await fetch(`${sim.url}/__sim/records`)).json();
    expect(records.map((r: { status: number }) => r.status)).toEqual([502, 200]);
    expect(records[1]).toMatchObject({ provider: 'openai', endpoint: 'chat', model: 'gpt-4o-mini', stream: false, aborted: false, fault: null, at: expect.any(Number) });
    expect((await fetch(`${sim.url}/__sim/records`, { method: 'DELETE' })).status).toBe(204);
    expect(sim.records()).toEqual([]);
  });
});

describe('settings', () => {
  it('PUT /__sim/settings and configure() change the default length for later requests', async () => {
    const other = await startSimulator();
    try {
      const put = await fetch(`${other.url}/__sim/settings`, { method: 'PUT', body: JSON.stringify({ defaultOutputTokens: 12 }) });
      expect(put.status).toBe(200);
      expect(await put.json()).not.toHaveProperty('keys');
      const r1 = await (await post(`${other.baseUrls.openai}/chat/completions`, chat(), { authorization: 'Bearer sk-sim-openai' })).json();
      expect(r1.usage.completion_tokens).toBe(12);
      other.configure({ defaultOutputTokens: 20 });
      const r2 = await (await post(`${other.baseUrls.openai}/chat/completions`, chat(), { authorization: 'Bearer sk-sim-openai' })).json();
      expect(r2.usage.completion_tokens).toBe(20);
      const bad = await fetch(`${other.url}/__sim/settings`, { method: 'PUT', body: JSON.stringify({ latencyMs: -1 }) });
      expect(bad.status).toBe(400);
    } finally {
      await other.close();
    }
  });
});

describe('client aborts', () => {
  it('stops generating when the client leaves mid-stream and records the tokens written so far', async () => {
    const slow = await startSimulator({ chunkDelayMs: 15, defaultOutputTokens: 200 });
    try {
      const ctl = new AbortController();
      const res = await fetch(`${slow.baseUrls.openai}/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer sk-sim-openai' },
        body: JSON.stringify(chat('long one', { stream: true })),
        signal: ctl.signal,
      });
      const reader = res.body!.getReader();
      let seen = '';
      while ((seen.match(/data: /g) ?? []).length < 3) seen += new TextDecoder().decode((await reader.read()).value);
      ctl.abort();
      const rec = await eventually(() => {
        const r = slow.records()[0];
        if (!r) throw new Error('no record yet');
        return r;
      });
      expect(rec.aborted).toBe(true);
      expect(rec.completionTokens).toBeGreaterThan(0);
      expect(rec.completionTokens).toBeLessThan(200);
      expect(rec.promptTokens).toBeGreaterThan(0);
    } finally {
      await slow.close();
    }
  });
});
