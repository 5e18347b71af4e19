import { readFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import type { JsonObject } from "@bufbuild/protobuf";
import { createContextValues, cors as connectCors } from "@connectrpc/connect";
import { context, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { Registry } from "prom-client";
import { createLogger, type Logger } from "../lib/log.js";
// Not lib/runtime/index.js, which also loads start-service and with it MikroORM and knex.
import { startMetricsServer, type MetricsServer } from "../lib/runtime/metrics-server.js";
import { extractHeaders, setupTelemetry } from "../lib/telemetry/index.js";
import { Gatekeeper, overloaded, tooManyStreams } from "./admission.js";
import { createPublicApi } from "./api/index.js";
import { createAuthenticator } from "./auth.js";
import type { GatewayConfig } from "./config.js";
import { connectHandler } from "./connect-adapter.js";
import { connectRoutes, requestGate, requestInfoKey, rpcPaths, type RpcRequestInfo } from "./connect-routes.js";
import { DeadLetterAdmin } from "./dlq.js";
import { toErrorResponse } from "./errors.js";
import { createDualServer, type DualServer } from "./h2c-sniff.js";
import { HealthChecker } from "./health.js";
import { type IdempotencyBackend, IdempotencyStore } from "./idempotency.js";
import { KvIdempotencyStore } from "./idempotency-kv.js";
import { LazyNats } from "./nats-connection.js";
import { createGatewayMetrics, type GatewayMetrics, rpcDurationInterceptor } from "./metrics.js";
import { FaultAdmin } from "./faults.js";
import { isDocsPath, serveDocs } from "./openapi/docs.js";
import { openApiDocument } from "./openapi/document.js";
import { adminRoutes } from "./rest/admin.js";
import { analyticsRoutes } from "./rest/analytics.js";
import { faultRoutes } from "./rest/faults.js";
import { deliveryRoutes } from "./rest/deliveries.js";
import { fileRoutes } from "./rest/files.js";
import { abortResponse, type NodeRequest, type NodeResponse, sendJson } from "./rest/http.js";
import { inventoryRoutes } from "./rest/inventory.js";
import { notificationRoutes } from "./rest/notifications.js";
import { orderRoutes } from "./rest/orders.js";
import { paymentRoutes } from "./rest/payments.js";
import { RestRouter, type Route, type StoredReply } from "./rest/router.js";
import { devTokenRoutes } from "./rest/dev-token.js";
import { LoadShedder } from "./shedding.js";
import { sendNotBuilt, StaticSite } from "./static-files.js";
import { closeUpstreams, createUpstreams, type Upstreams } from "./upstreams.js";

/** Every REST route, in the order of the route table. */
export const ROUTES: Route[] = [
  ...orderRoutes,
  ...inventoryRoutes,
  ...paymentRoutes,
  ...fileRoutes,
  ...deliveryRoutes,
  ...notificationRoutes,
  ...analyticsRoutes,
  ...adminRoutes,
  ...faultRoutes,
];

/** The version in the OpenAPI document: the project's (package.json). */
const API_VERSION = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;

export interface GatewayStartOptions {
  logger?: Logger;
}

export interface RunningGateway {
  /** The port serving HTTP/1.1 and h2c. */
  readonly port: number;
  /** The port of /metrics and /healthz, when enabled. */
  readonly metricsPort?: number;
  readonly logger: Logger;
  readonly upstreams: Upstreams;
  readonly shedder: LoadShedder;
  /** Stops accepting requests, ends streams, waits up to `graceMs` for the rest, closes clients. */
  stop(graceMs?: number): Promise<void>;
}

const tracer = trace.getTracer("ordermesh.gateway");

function rpcProtocol(contentType: string | undefined): string {
  if (contentType?.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType?.startsWith("application/grpc")) return "grpc";
  return "connect";
}

/**
 * Starts the gateway: one port for HTTP/1.1 and h2c serving the public services over Connect,
 * gRPC and gRPC-Web and the REST routes, with authentication, rate limits, load shedding,
 * idempotency and a circuit breaker per upstream.
 */
export async function start(config: GatewayConfig, options: GatewayStartOptions = {}): Promise<RunningGateway> {
  setupTelemetry({ serviceName: "gateway", otlpEndpoint: config.otlpEndpoint });
  const logger = options.logger ?? createLogger("gateway");
  if (config.devSecret) {
    logger.warn(
      "USING THE BUILT-IN DEVELOPMENT JWT SECRET: anyone can mint tokens for this gateway. " +
        "Set JWT_SECRET (HS256) or JWT_JWKS_URL before exposing it to anyone.",
    );
  }

  const upstreams = createUpstreams({
    addresses: config.upstreams,
    deadlineMs: config.upstreamDeadlineMs,
    breakerResetMs: config.breakerResetMs,
    breakerHalfOpenProbes: config.breakerHalfOpenProbes,
    maxInFlight: config.upstreamMaxInFlight,
    maxQueueMs: config.upstreamMaxQueueMs,
    retryAttempts: config.upstreamRetryAttempts,
    logger,
  });
  const shedder = new LoadShedder({ maxInFlight: config.maxInFlight, maxStreams: config.maxStreams });
  const shutdown = new AbortController();
  const health = new HealthChecker(config.upstreams, upstreams);
  const nats = config.natsUrl ? new LazyNats({ natsUrl: config.natsUrl, name: "gateway", logger }) : undefined;
  const dlq = new DeadLetterAdmin({ natsUrl: config.natsUrl, eventsPrefix: config.eventsPrefix, streamReplicas: config.streamReplicas, logger });

  let serving = false;
  let metricsServer: MetricsServer | undefined;
  if (config.metricsPort >= 0) {
    metricsServer = await startMetricsServer({ port: config.metricsPort, host: config.metricsHost, service: "gateway", ready: () => serving });
  }
  const metrics = createGatewayMetrics(metricsServer?.registry ?? new Registry(), shedder, upstreams);
  const dispatch = createDispatch(config, { logger, upstreams, shedder, health, metrics, nats, dlq, shutdown: shutdown.signal });
  const server: DualServer = createDualServer((req, res) => serveRequest(dispatch, req, res));

  /** Closes the clients, in the order the stop needs them (also after a failed start). */
  async function closeClients(): Promise<void> {
    health.close();
    closeUpstreams(upstreams);
    await dlq.close();
    await nats?.close();
    await metricsServer?.close();
  }

  let port: number;
  try {
    port = await server.listen(config.port, config.host);
  } catch (error) {
    await closeClients();
    throw error;
  }
  serving = true;
  logger.info({ port, metrics_port: metricsServer?.port, upstreams: config.upstreams }, "gateway ready");

  let stopping: Promise<void> | undefined;
  return {
    port,
    metricsPort: metricsServer?.port,
    logger,
    upstreams,
    shedder,
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        serving = false;
        // Ends tracking streams (SSE, WatchOrder) and tells connect handlers to wrap up.
        shutdown.abort();
        await server.close(graceMs);
        await closeClients();
        logger.info("gateway stopped");
      })();
      return stopping;
    },
  };
}

/** The gateway's clients and shared state, made at start, that requests are routed with. */
interface GatewayParts {
  logger: Logger;
  upstreams: Upstreams;
  shedder: LoadShedder;
  health: HealthChecker;
  metrics: GatewayMetrics;
  nats: LazyNats | undefined;
  dlq: DeadLetterAdmin;
  /** Aborted when the gateway stops: ends streams. */
  shutdown: AbortSignal;
}

/** Everything that routing one request needs, built once at start. */
interface Dispatch extends GatewayParts {
  config: GatewayConfig;
  rest: RestRouter;
  site: StaticSite | undefined;
  apiDocument: JsonObject;
  /** RPC paths of the public services, unary or stream. */
  rpc: Map<string, "unary" | "stream">;
  /** What the Connect handlers learn about their request (client address, a refusal decided here). */
  rpcInfo: WeakMap<object, RpcRequestInfo>;
  connectHandler: (req: NodeRequest, res: NodeResponse) => void;
  cors: (req: NodeRequest, res: NodeResponse) => boolean;
}

/** Builds the REST router, the Connect handler and the rest of what requests are routed with. */
function createDispatch(config: GatewayConfig, parts: GatewayParts): Dispatch {
  const { logger, nats, shutdown } = parts;
  const api = createPublicApi(parts.upstreams);
  // Shared state (idempotency records) lives in NATS KV when there is NATS, so replicas agree.
  const idempotency: IdempotencyBackend<unknown> = nats
    ? new KvIdempotencyStore({
        nats,
        bucket: `${config.eventsPrefix ?? ""}gateway_idempotency`,
        ttlMs: config.idempotency.ttlMs,
        leaseMs: config.idempotency.leaseMs,
        replicas: config.streamReplicas,
        logger,
      })
    : new IdempotencyStore<unknown>({ ttlMs: config.idempotency.ttlMs, maxKeys: config.idempotency.maxKeys });
  const faults = new FaultAdmin({ nats, eventsPrefix: config.eventsPrefix, replicas: config.streamReplicas, logger });
  const gatekeeper = new Gatekeeper({
    authenticate: createAuthenticator(config.jwt),
    rateLimit: config.rateLimit,
    onRefused: (reason) => parts.metrics.refused(reason),
  });
  const site = config.webDir ? StaticSite.load(config.webDir) : undefined;
  if (config.webDir && !site) logger.warn({ web_dir: config.webDir }, "the web app is not built (npm run build:web): / answers 404");
  // Dev sign-in exists only with the public dev secret; otherwise its path is an unknown route.
  const devRoutes = config.devSecret
    ? devTokenRoutes({ secret: config.jwt.secret!, issuer: config.jwt.issuer, audience: config.jwt.audience, devCustomerId: config.devCustomerId })
    : [];
  const rest = new RestRouter([...ROUTES, ...devRoutes], {
    api,
    gatekeeper,
    idempotency: idempotency as IdempotencyBackend<StoredReply>,
    logger,
    maxBodyBytes: config.maxBodyBytes,
    maxUploadBytes: config.maxUploadBytes,
    shutdown,
    dlq: parts.dlq,
    faults,
  });
  const rpcInfo = new WeakMap<object, RpcRequestInfo>();
  const rpcHandler = connectHandler({
    routes: connectRoutes(api, idempotency as IdempotencyBackend<string>, logger, faults),
    requestGate: requestGate(gatekeeper),
    readMaxBytes: config.rpcMaxMessageBytes,
    interceptors: [rpcDurationInterceptor()],
    // Unknown fields in Connect JSON are errors naming the field, as in REST.
    jsonOptions: { ignoreUnknownFields: false },
    shutdownSignal: shutdown,
    contextValues: (req) => createContextValues().set(requestInfoKey, rpcInfo.get(req) ?? { clientAddress: "unknown" }),
    logger,
  });
  return {
    ...parts,
    config,
    rest,
    site,
    apiDocument: openApiDocument(ROUTES, { version: API_VERSION }),
    rpc: rpcPaths(),
    rpcInfo,
    connectHandler: rpcHandler,
    cors: corsHandler(config.corsOrigins),
  };
}

/** The request handler of both servers: one SERVER span per request, and nothing ever escapes. */
function serveRequest(dispatch: Dispatch, req: NodeRequest, res: NodeResponse): void {
  const { logger, metrics } = dispatch;
  const started = performance.now();
  const labels: RequestLabels = { route: "unmatched", protocol: "rest" };
  const parent = extractHeaders((key) => {
    const value = req.headers[key];
    return Array.isArray(value) ? value[0] : value;
  });
  const span = tracer.startSpan(req.method ?? "HTTP", { kind: SpanKind.SERVER, attributes: { "http.request.method": req.method } }, parent);
  res.once("close", () => {
    const status = res.statusCode;
    nameSpan(span, req.method ?? "HTTP", labels, status);
    if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
    const seconds = (performance.now() - started) / 1000;
    metrics.request({ protocol: labels.protocol, route: labels.route, status }, seconds);
    const line = { method: req.method, route: labels.route, protocol: labels.protocol, status, ms: Math.round(seconds * 1000) };
    if (status >= 500 && status !== 503) logger.warn(line, "request failed");
    else logger.debug(line, "request");
  });
  context.with(trace.setSpan(parent, span), () => {
    route(dispatch, req, res, labels).catch((error: unknown) => {
      if (res.headersSent) {
        logger.error({ err: error }, "request failed after its response began");
        abortResponse(res);
        return;
      }
      const answer = toErrorResponse(error, logger);
      sendJson(res, answer.status, answer.body as unknown as Parameters<typeof sendJson>[2], answer.headers);
    });
  });
}

/**
 * Routes one request: CORS preflights, /health, the API docs, RPCs (Connect, gRPC, gRPC-Web),
 * the web app's files, then the REST routes. RPCs and REST requests take an in-flight slot
 * first (a stream slot for streams); without one they are refused as overloaded.
 */
async function route(dispatch: Dispatch, req: NodeRequest, res: NodeResponse, labels: RequestLabels): Promise<void> {
  const { config, shedder, metrics, rest } = dispatch;
  let url: URL;
  try {
    url = new URL(req.url ?? "/", "http://gateway.invalid");
  } catch {
    sendJson(res, 400, { error: { code: "invalid_argument", message: "the request target is not a valid URL" } });
    return;
  }
  if (dispatch.cors(req, res)) return;
  const method = req.method ?? "GET";
  if (url.pathname === "/health") {
    labels.route = "/health";
    labels.template = "/health";
    if (method !== "GET" && method !== "HEAD") {
      sendJson(res, 405, { error: { code: "unimplemented", message: "use GET /health" } }, { allow: "GET" });
      return;
    }
    const report = await dispatch.health.report();
    sendJson(res, report.status === "SERVING" ? 200 : 503, report as unknown as Parameters<typeof sendJson>[2]);
    return;
  }
  if (isDocsPath(url.pathname)) {
    labels.route = url.pathname === "/openapi.json" ? "/openapi.json" : "/docs";
    await serveDocs(req, res, url.pathname, dispatch.apiDocument);
    return;
  }
  const clientAddress = req.socket?.remoteAddress ?? "unknown";
  const kind = dispatch.rpc.get(url.pathname);
  if (kind) {
    labels.protocol = rpcProtocol(req.headers["content-type"]);
    labels.route = url.pathname;
    const release = shedder.tryAcquire(kind === "stream" ? "stream" : "request");
    if (release) res.once("close", release);
    else metrics.refused("shed");
    dispatch.rpcInfo.set(req, { clientAddress, rejection: release ? undefined : kind === "stream" ? tooManyStreams() : overloaded() });
    dispatch.connectHandler(req, res);
    return;
  }
  if (dispatch.site?.handles(url.pathname)) {
    labels.route = "static";
    dispatch.site.serve(req, res, url.pathname);
    return;
  }
  if (url.pathname === "/" && config.webDir) {
    sendNotBuilt(res, config.webDir);
    return;
  }
  const matched = rest.match(method, url.pathname);
  const stream = "match" in matched && matched.match.route.stream === true;
  if ("match" in matched) {
    labels.route = `${matched.match.route.method} ${matched.match.route.path}`;
    labels.template = matched.match.route.path;
  }
  const release = shedder.tryAcquire(stream ? "stream" : "request");
  if (release) res.once("close", release);
  else metrics.refused("shed");
  await rest.handle({ req, res, url, matched, clientAddress, rejection: release ? undefined : stream ? tooManyStreams() : overloaded() });
}

/** What the request handler learns about a request while routing it, for its span, metrics and log line. */
interface RequestLabels {
  /** Metrics label: `POST /api/v1/orders`, an RPC path, `/health` or `unmatched`. */
  route: string;
  /** rest, connect, grpc or grpc-web. */
  protocol: string;
  /** The REST route template (`/api/v1/orders/:id`), once matched. */
  template?: string;
}

/**
 * Names the request's SERVER span by the OpenTelemetry conventions: an RPC (Connect, gRPC,
 * gRPC-Web) as `package.Service/Method` with rpc.* attributes, a REST request as
 * `METHOD /route/template` with http.route; unmatched requests by their method alone.
 */
function nameSpan(span: Span, method: string, labels: RequestLabels, status: number): void {
  span.setAttribute("http.response.status_code", status);
  if (labels.protocol !== "rest" && labels.route.startsWith("/")) {
    const name = labels.route.slice(1);
    const slash = name.lastIndexOf("/");
    span.updateName(name);
    span.setAttributes({
      "rpc.system": labels.protocol === "connect" ? "connect_rpc" : "grpc",
      "rpc.service": name.slice(0, slash),
      "rpc.method": name.slice(slash + 1),
    });
    return;
  }
  if (labels.template) {
    span.updateName(`${method} ${labels.template}`);
    span.setAttribute("http.route", labels.template);
  } else {
    span.updateName(method);
  }
}

/**
 * CORS for browser clients of the allowed origins (`*` allows any): preflights are answered
 * here; actual responses get Allow-Origin and the headers scripts may read. Returns true when
 * the request was a preflight and is answered.
 */
function corsHandler(origins: string[]): (req: NodeRequest, res: NodeResponse) => boolean {
  const exposed = [...connectCors.exposedHeaders, "retry-after", "location", "idempotent-replayed", "x-error-field", "www-authenticate"].join(", ");
  const allowedHeaders = [...connectCors.allowedHeaders, "authorization", "idempotency-key", "last-event-id"].join(", ");
  return (req, res) => {
    const origin = req.headers.origin;
    if (origins.length === 0 || !origin || !(origins.includes("*") || origins.includes(origin))) return false;
    res.setHeader("access-control-allow-origin", origin);
    res.setHeader("vary", "origin");
    if (req.method === "OPTIONS" && req.headers["access-control-request-method"]) {
      (res as ServerResponse).writeHead(204, {
        "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE",
        "access-control-allow-headers": allowedHeaders,
        "access-control-max-age": "7200",
      });
      res.end();
      return true;
    }
    res.setHeader("access-control-expose-headers", exposed);
    return false;
  };
}
