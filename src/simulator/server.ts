// The simulator's HTTP server: shared state, a route table (one line per endpoint), body reading and the control API.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createFaultBook, faultName, type FaultBook } from './faults.js';
import { authErrorBody, sendJson, statusErrorBody } from './http-out.js';
import { loadModelDirectory, type ModelDirectory } from './models.js';
import { createPromptCache, type PromptCache } from './prompt-cache.js';
import { faultRulesSchema, simSettingsPatchSchema, type Fault, type SimProvider, type SimRecord, type SimulatorOptions } from './types.js';
import { Lru, sleep } from './util.js';

export interface SimSettings {
  keys: { openai: string; deepseek: string; gemini: string };
  latencyMs: number;
  ttftMs: number;
  chunkDelayMs: number;
  defaultOutputTokens: number;
  seed: number;
  acceptAnyModel: boolean;
}

export interface SimState {
  settings: SimSettings;
  models: ModelDirectory;
  faults: FaultBook;
  promptCache: PromptCache;
  /** Memo of prompt token counts by serialized prompt (the benchmark repeats identical prompts). */
  promptTokens: Lru<string, number>;
  record(r: Omit<SimRecord, 'at'>): void;
  records(): SimRecord[];
  clearRecords(): void;
  /** A unique id with a prefix (`chatcmpl-…`). */
  nextId(prefix: string): string;
}

export interface RouteContext {
  state: SimState;
  req: IncomingMessage;
  res: ServerResponse;
  /** Capture groups of the route's path pattern. */
  params: string[];
  query: URLSearchParams;
  body: Buffer;
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: RegExp;
  handler(ctx: RouteContext): Promise<void> | void;
}

const DEFAULT_KEYS = { openai: 'sk-sim-openai', deepseek: 'sk-sim-deepseek', gemini: 'sim-gemini-key' };
const MAX_BODY_BYTES = 64 * 1024 * 1024;

export function createSimState(opts: SimulatorOptions): SimState {
  const settings: SimSettings = {
    keys: { ...DEFAULT_KEYS, ...opts.keys },
    latencyMs: opts.latencyMs ?? 0,
    ttftMs: opts.ttftMs ?? 0,
    chunkDelayMs: opts.chunkDelayMs ?? 0,
    defaultOutputTokens: opts.defaultOutputTokens ?? 40,
    seed: opts.seed ?? 0,
    acceptAnyModel: opts.acceptAnyModel ?? false,
  };
  const maxRecords = opts.maxRecords ?? 100_000;
  let log: SimRecord[] = [];
  let counter = 0;
  const instance = Math.floor(Math.random() * 0xffffff).toString(36);
  return {
    settings,
    models: loadModelDirectory(opts.catalogPath),
    faults: createFaultBook(),
    promptCache: createPromptCache(),
    promptTokens: new Lru(512),
    record(r) {
      log.push({ ...r, at: Date.now() });
      // Dropping in halves keeps the amortised cost O(1) without a ring buffer.
      if (log.length > maxRecords) log = log.slice(Math.floor(maxRecords / 2));
    },
    records: () => log.slice(),
    clearRecords() {
      log = [];
    },
    nextId: (prefix) => `${prefix}${instance}${(++counter).toString(36).padStart(6, '0')}`,
  };
}

const controlRoutes: Route[] = [
  { method: 'GET', path: /^\/__sim\/records$/, handler: ({ res, state }) => sendJson(res, 200, state.records()) },
  {
    method: 'DELETE',
    path: /^\/__sim\/records$/,
    handler: ({ res, state }) => {
      state.clearRecords();
      state.promptCache.clear();
      res.writeHead(204).end();
    },
  },
  {
    method: 'PUT',
    path: /^\/__sim\/faults$/,
    handler: ({ res, state, body }) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        return sendJson(res, 400, { error: 'body must be a JSON array of fault rules' });
      }
      const rules = faultRulesSchema.safeParse(parsed);
      if (!rules.success) return sendJson(res, 400, { error: rules.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
      state.faults.set(rules.data);
      res.writeHead(204).end();
    },
  },
  {
    method: 'PUT',
    path: /^\/__sim\/settings$/,
    handler: ({ res, state, body }) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        return sendJson(res, 400, { error: 'body must be a JSON object of settings' });
      }
      const patch = simSettingsPatchSchema.safeParse(parsed);
      if (!patch.success) return sendJson(res, 400, { error: patch.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
      Object.assign(state.settings, patch.data);
      const { keys: _keys, ...visible } = state.settings;
      sendJson(res, 200, visible);
    },
  },
  {
    method: 'DELETE',
    path: /^\/__sim\/faults$/,
    handler: ({ res, state }) => {
      state.faults.clear();
      res.writeHead(204).end();
    },
  },
];

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) req.destroy(new Error('body too large'));
      else parts.push(c);
    });
    req.on('end', () => resolve(parts.length === 1 ? parts[0] : Buffer.concat(parts)));
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(new Error('client closed the connection before the body was complete'));
    });
  });
}

async function dispatch(routes: Route[], state: SimState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  let pathMatched = false;
  for (const route of routes) {
    const m = route.path.exec(path);
    if (!m) continue;
    pathMatched = true;
    if (route.method !== req.method) continue;
    const body = req.method === 'GET' ? Buffer.alloc(0) : await readBody(req);
    const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
    await route.handler({ state, req, res, params: m.slice(1), query, body });
    return;
  }
  req.resume();
  sendJson(res, pathMatched ? 405 : 404, { error: { message: `no simulated endpoint ${req.method} ${path}`, type: 'invalid_request_error', param: null, code: null } });
}

export interface RunningServer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

export async function listen(routes: Route[], state: SimState, port: number, host: string): Promise<RunningServer> {
  const table = [...controlRoutes, ...routes];
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    dispatch(table, state, req, res).catch((e: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: { message: `simulator failure: ${(e as Error).message}`, type: 'server_error', param: null, code: null } });
      else res.destroy();
    });
  });
  // Longer than any client's keep-alive, so that the client, not us, closes idle pooled connections (no reset races).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 0;
  server.on('connection', (s: Socket) => {
    s.setNoDelay(true);
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return {
    server,
    port: actualPort,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Hanging faults and pooled keep-alive connections would hold close() forever.
        for (const s of sockets) s.destroy();
      }),
  };
}

// ---- helpers shared by the provider modules ----

/** What a request's fault decided before any answer: continue (maybe after a delay) or it was fully handled. */
export async function applyFault(
  ctx: RouteContext,
  fault: Fault | null,
  provider: SimProvider,
  base: Omit<SimRecord, 'at' | 'status' | 'aborted' | 'fault'>,
): Promise<'continue' | 'handled'> {
  if (!fault) return 'continue';
  const name = faultName(fault);
  const zero = { ...base, promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 };
  switch (fault.type) {
    case 'delay':
      await sleep(fault.ms);
      return 'continue';
    case 'reset':
      ctx.req.socket.destroy();
      ctx.state.record({ ...zero, status: 0, aborted: false, fault: name });
      return 'handled';
    case 'hang':
      // The client may already be gone (then 'close' has fired and would never come again).
      if (!ctx.res.destroyed && !ctx.req.socket.destroyed) await new Promise<void>((resolve) => ctx.res.on('close', () => resolve()));
      ctx.state.record({ ...zero, status: 0, aborted: true, fault: name });
      return 'handled';
    case 'auth': {
      const { status, body } = authErrorBody(provider);
      sendJson(ctx.res, status, body);
      ctx.state.record({ ...zero, status, aborted: false, fault: name });
      return 'handled';
    }
    case 'status': {
      const headers: Record<string, string> = fault.retryAfterS !== undefined ? { 'retry-after': String(fault.retryAfterS) } : {};
      sendJson(ctx.res, fault.status, statusErrorBody(provider, fault.status, fault.retryAfterS), headers);
      ctx.state.record({ ...zero, status: fault.status, aborted: false, fault: name });
      return 'handled';
    }
    default:
      return 'continue'; // cut and error_event act inside the answer
  }
}
