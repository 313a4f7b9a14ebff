// The gateway process (loaded by main.ts once the V8 heap settings are in place): read config, build every
// dependency once, serve, shut down gracefully (drain, flush the ledger, exit 0).
import { startIdleCollector, startupDone } from './heap-tuning.js';
import { serve } from '@hono/node-server';
import { loadConfig, ConfigError } from './config/index.js';
import { createLogger } from './logger.js';
import { buildDeps } from './deps-factory.js';
import { createApp } from './app.js';
import { httpServerOptions, installClientErrorHandler } from './http/server-options.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`tollgate: invalid configuration\n${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  const logger = createLogger(config.env.LOG_LEVEL);
  const built = await buildDeps(config, logger);
  const app = createApp(built.deps);
  const server = serve({ fetch: app.fetch, port: config.env.PORT, hostname: config.env.HOST, serverOptions: httpServerOptions(config.file.server) }, (info) => {
    logger.info({ port: info.port, host: config.env.HOST, store: built.deps.store.kind, limiter: built.limiterKind }, 'tollgate listening');
    process.stdout.write(`Tollgate listening on http://${config.env.HOST === '0.0.0.0' ? 'localhost' : config.env.HOST}:${info.port}\n`);
    startupDone();
    startIdleCollector();
  });

  installClientErrorHandler(server);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: no new connections, draining in-flight requests');
    const deadline = setTimeout(() => {
      logger.warn('shutdown deadline reached: closing remaining connections');
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
    }, config.file.server.shutdown_grace_ms);
    deadline.unref();
    const closeIdle = () => (server as unknown as { closeIdleConnections?: () => void }).closeIdleConnections?.();
    // Keep-alive connections that go idle after their last response would otherwise hold the exit until Node's
    // keep-alive timeout: close them as they become idle.
    const idleSweep = setInterval(closeIdle, 100);
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      closeIdle();
    });
    clearInterval(idleSweep);
    await built.close();
    logger.info('ledger flushed, bye');
    await new Promise<void>((resolve) => logger.flush(() => resolve()));
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((e: unknown) => {
  process.stderr.write(`tollgate: failed to start: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
