// The benchmark's floor: a bare node:http keep-alive pass-through proxy (no parsing, bytes piped both ways).
// Run as its own process: `node --import tsx bench/proxy.ts --port N --upstream http://127.0.0.1:M`.
import { createServer, request, Agent } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, upstream: { type: 'string' } } });
if (!values.upstream) {
  process.stderr.write('--upstream is required\n');
  process.exit(2);
}
const upstream = new URL(values.upstream);
// Keep-alive to the upstream, as a gateway would; enough sockets for the 32-connection rounds.
const agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 });

const server = createServer((req, res) => {
  const headers = { ...req.headers, host: upstream.host };
  const up = request(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers, agent },
    (ures) => {
      res.writeHead(ures.statusCode ?? 502, ures.headers);
      ures.pipe(res);
    },
  );
  up.on('error', () => {
    if (!res.headersSent) res.writeHead(502);
    res.end();
  });
  req.pipe(up);
});
server.keepAliveTimeout = 65_000;
server.listen(Number(values.port), '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`bare proxy listening on ${typeof addr === 'object' && addr ? addr.port : values.port}\n`);
});
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
