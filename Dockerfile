# Tollgate gateway image: Node 20 slim, production dependencies from the lockfile, src/ built to build/ (esbuild), run on plain node.
FROM node:20-slim

WORKDIR /app
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8787 \
    TOLLGATE_DATA_DIR=/data \
    TOLLGATE_CONFIG=/app/config/tollgate.yaml

# Dependencies first, so that a source change reuses this layer. Dev dependencies (tests, drizzle-kit, benchmarks)
# are left out: esbuild (a runtime dependency) builds the JavaScript, and migrations ship as SQL.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY tsconfig.json ./
COPY bin ./bin
COPY config ./config
COPY migrations ./migrations
COPY scripts/build.mjs ./scripts/build.mjs
COPY src ./src
RUN node scripts/build.mjs

# The data dir holds the ledger spool (and PGlite files when no DATABASE_URL is given): a volume, owned by `node`.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node

EXPOSE 8787
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8787) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# node directly (not npm): SIGTERM reaches the gateway, which drains streams and flushes the ledger.
CMD ["node", "build/main.js"]
