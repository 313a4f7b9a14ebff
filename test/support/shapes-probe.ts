// Run by test/unit/shapes.test.ts as `node --allow-natives-syntax --import tsx test/support/shapes-probe.ts`: builds
// request-path objects twice, as two requests would, and prints whether each pair shares one V8 map (hidden class)
// with fast properties. An object that gets a map of its own per request (keys added to a spread clone) allocates maps
// that live in the old generation; one whose properties fall into dictionary mode (a getter in an object literal,
// `delete`) carries a hash table instead: either way the promoted bytes per request and the scavenges' pauses rise
// (docs/performance.md, 2026-12-07).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createUpstreamHttp, type UpstreamRequest } from '../../src/providers/http.js';
import { servedHeaders } from '../../src/gateway/admission.js';
import type { RoutePlan } from '../../src/routing/router.js';
import { LightSignal } from '../../src/gateway/upstream-signal.js';

// V8's own checks, compiled at run time so that no source file carries the natives syntax.
const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;
const fast = new Function('a', 'return %HasFastProperties(a)') as (a: object) => boolean;

class Signal extends LightSignal {
  abort(reason: unknown): void {
    this.fire(reason);
  }
}

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('data: {"n":1}\n\ndata: [DONE]\n\n');
    } else {
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'sim' });
      res.end('{"ok":true}');
    }
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const http = createUpstreamHttp({ connectTimeoutMs: 5000, timeoutMs: 5000, bodyIdleTimeoutMs: 5000, connectionsPerOrigin: 4 });

function call(path: string, whole: boolean): Promise<Awaited<ReturnType<typeof http.request>>> {
  const signal = new Signal();
  const req: UpstreamRequest = {
    provider: 'openai',
    url: `${origin}${path}`,
    headers: { 'content-type': 'application/json' },
    body: '{}',
    signal,
    abort: (reason) => signal.abort(reason),
    wholeAnswerDeadline: whole,
  };
  return http.request(req);
}

const pair = (a: object, b: object) => ({ sameMap: sameMap(a, b), fast: fast(a) && fast(b) });
const out: Record<string, { sameMap: boolean; fast: boolean }> = {};

const whole = [await call('/whole', true), await call('/whole', true)];
out.wholeAnswer = pair(whole[0], whole[1]);
out.wholeAnswerHeaders = pair(whole[0].headers, whole[1].headers);
for (const r of whole) await r.text();

const streams = [await call('/stream', false), await call('/stream', false)];
out.streamAnswer = pair(streams[0], streams[1]);
for (const r of streams) await r.text();

const plan = { alias: 'bench', strategy: 'cheapest' } as unknown as RoutePlan;
const admitted = { plan, rateHeaders: { 'x-ratelimit-limit-requests': '100', 'x-ratelimit-remaining-requests': '99' } };
const served = { provider: 'openai', model: 'gpt-4o-mini', rank: 0, fallbacks: 0 };
out.servedHeaders = pair(servedHeaders(admitted, 'req_1', served), servedHeaders(admitted, 'req_2', served));

await http.close();
server.close();
process.stdout.write(JSON.stringify(out));
