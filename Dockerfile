# syntax=docker/dockerfile:1
# Build on the Node 24 LTS image (Debian 13: the uWebSockets.js binaries for Node 22+ need glibc
# 2.38 or newer, which Debian 12 lacks); run as a non-root user with production dependencies only.
FROM node:24-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json tsconfig.client.json ./
COPY engine ./engine
COPY orders ./orders
COPY gateway ./gateway
COPY persistence ./persistence
COPY config ./config
COPY client ./client
COPY console ./console
COPY tools ./tools
RUN npm run build

FROM node:24-trixie-slim AS runtime
ENV NODE_ENV=production \
    STOCKFLOW_SERVER__HOST=0.0.0.0 \
    STOCKFLOW_SERVER__PORT=8080
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config/stockflow.example.json ./config/stockflow.example.json
RUN mkdir -p /app/data && chown -R node:node /app/data
USER node
EXPOSE 8080
VOLUME ["/app/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:' + (process.env.STOCKFLOW_SERVER__PORT || 8080) + '/healthz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
# A 64 MiB young generation: at flash-sale rates the default (16 MiB) scavenges several times
# per group commit and promotes what a held reply keeps alive (README, "Two commands").
CMD ["node", "--max-semi-space-size=64", "dist/gateway/main.js"]
