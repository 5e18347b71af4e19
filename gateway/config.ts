import { DEFAULT_WEB_DIR } from "./static-files.js";
import { address, ConfigError, int, optionalStr, readConfig, str, url, urlList } from "../lib/config.js";
import { listenHost } from "../lib/runtime/service-config.js";

/** Secret used to sign and verify HS256 tokens when neither JWT_SECRET nor JWT_JWKS_URL is set. */
export const DEV_JWT_SECRET = "ordermesh-dev-secret-not-for-production-use";

export const UPSTREAM_NAMES = ["order", "inventory", "payment", "notification", "file", "delivery", "analytics"] as const;
export type UpstreamName = (typeof UPSTREAM_NAMES)[number];

export interface GatewayConfig {
  /** Port for HTTP/1.1 and h2c (GATEWAY_PORT, default 8080; 0 picks a free one). */
  port: number;
  /** Interface of the public port (GATEWAY_HOST, else LISTEN_HOST, default 127.0.0.1; the container sets 0.0.0.0). */
  host: string;
  /** Interface of /metrics and /healthz (METRICS_HOST, else LISTEN_HOST, default 127.0.0.1). */
  metricsHost: string;
  /** host:port of each service (ORDER_ADDR ... DELIVERY_ADDR, ANALYTICS_ADDR). */
  upstreams: Record<UpstreamName, string>;
  /** Deadline of unary upstream calls (UPSTREAM_DEADLINE_MS, default 5 s). */
  upstreamDeadlineMs: number;
  /** How long an open circuit fails fast before it tries calls again (BREAKER_RESET_MS). */
  breakerResetMs: number;
  /** Trial calls an upstream's half-open circuit lets through at once (BREAKER_HALF_OPEN_PROBES, default 3). */
  breakerHalfOpenProbes: number;
  /** Unary calls in flight per upstream; more wait in the gateway, uncounted by breakers (UPSTREAM_MAX_IN_FLIGHT, default 64). */
  upstreamMaxInFlight: number;
  /** The longest a call waits in the gateway for one of those slots before it is answered 503 (UPSTREAM_MAX_QUEUE_MS, default 500). */
  upstreamMaxQueueMs: number;
  /** Attempts of a call that never reached its upstream (UPSTREAM_RETRY_ATTEMPTS, default 3; 1 where Istio retries). */
  upstreamRetryAttempts: number;
  jwt: {
    /** HS256 secret; the dev default when neither this nor jwksUrl is configured. */
    secret?: string;
    /** JWKS URL for asymmetric tokens (production). */
    jwksUrl?: string;
    issuer?: string;
    audience?: string;
  };
  /** True when the built-in dev secret is in use (a loud warning is logged at start). */
  devSecret: boolean;
  rateLimit: {
    /** Per principal (or per client IP without a valid token): tokens per second, 0 disables. */
    perPrincipalRps: number;
    perPrincipalBurst: number;
    /** Whole gateway: tokens per second, 0 disables. */
    globalRps: number;
    globalBurst: number;
  };
  /** Requests in flight above which new ones are shed with 503 (MAX_IN_FLIGHT). */
  maxInFlight: number;
  /** Long-lived tracking streams (SSE + WatchOrder) allowed at once (MAX_STREAMS). */
  maxStreams: number;
  /** Largest JSON request body of a REST route (MAX_BODY_BYTES, default 1 MiB). */
  maxBodyBytes: number;
  /** Largest file accepted by POST /api/v1/files/upload (MAX_UPLOAD_BYTES, default 25 MiB). */
  maxUploadBytes: number;
  /** Largest single message of a Connect / gRPC / gRPC-Web call (RPC_MAX_MESSAGE_BYTES, default 4 MiB). */
  rpcMaxMessageBytes: number;
  /**
   * Idempotency records: kept ttlMs (IDEMPOTENCY_TTL_MS, default 24 h); in memory at most maxKeys
   * (without NATS); a running request holds its key for leaseMs (IDEMPOTENCY_LEASE_MS, default
   * 60 s), after which another replica may take over a key whose holder died.
   */
  idempotency: { ttlMs: number; maxKeys: number; leaseMs: number };
  /** NATS for the DLQ admin routes; without it they answer 503. */
  natsUrl?: string;
  eventsPrefix?: string;
  /** Replicas of the event streams (NATS_STREAM_REPLICAS), so the DLQ admin never resets them. */
  streamReplicas: number;
  /** Port of /metrics and /healthz (METRICS_PORT, default 9464); -1 disables. */
  metricsPort: number;
  otlpEndpoint?: string;
  /** Browser origins allowed by CORS (CORS_ORIGINS, comma-separated; empty: CORS off). */
  corsOrigins: string[];
  /** The built web app served at `/` (WEB_DIR, default web/dist); "off" serves none. */
  webDir?: string;
  /** The customer the dev sign-in offers (DEV_CUSTOMER_ID; the one `npm run seed` creates). */
  devCustomerId: string;
}

/** The dev customer of `npm run seed` (services/order/seed.ts; a test keeps the two equal). */
export const DEV_CUSTOMER_ID = "0190a000-0000-7000-8000-0000000000c1";

const DEFAULT_ADDR: Record<UpstreamName, string> = {
  order: "127.0.0.1:50051",
  inventory: "127.0.0.1:50052",
  payment: "127.0.0.1:50053",
  notification: "127.0.0.1:50054",
  file: "127.0.0.1:50055",
  delivery: "127.0.0.1:50056",
  analytics: "127.0.0.1:50057",
};

const MiB = 1024 * 1024;

/** Reads the gateway settings from the environment; throws one ConfigError naming every bad variable. */
export function readGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const c = readConfig(
    {
      port: int("GATEWAY_PORT", 8080, { min: 0, max: 65535 }),
      order: address("ORDER_ADDR", DEFAULT_ADDR.order),
      inventory: address("INVENTORY_ADDR", DEFAULT_ADDR.inventory),
      payment: address("PAYMENT_ADDR", DEFAULT_ADDR.payment),
      notification: address("NOTIFICATION_ADDR", DEFAULT_ADDR.notification),
      file: address("FILE_ADDR", DEFAULT_ADDR.file),
      delivery: address("DELIVERY_ADDR", DEFAULT_ADDR.delivery),
      analytics: address("ANALYTICS_ADDR", DEFAULT_ADDR.analytics),
      upstreamDeadlineMs: int("UPSTREAM_DEADLINE_MS", 5_000, { min: 10, max: 120_000 }),
      breakerResetMs: int("BREAKER_RESET_MS", 10_000, { min: 100, max: 600_000 }),
      breakerHalfOpenProbes: int("BREAKER_HALF_OPEN_PROBES", 3, { min: 1, max: 1_000 }),
      upstreamMaxInFlight: int("UPSTREAM_MAX_IN_FLIGHT", 64, { min: 1, max: 100_000 }),
      upstreamMaxQueueMs: int("UPSTREAM_MAX_QUEUE_MS", 500, { min: 0, max: 120_000 }),
      upstreamRetryAttempts: int("UPSTREAM_RETRY_ATTEMPTS", 3, { min: 1, max: 10 }),
      jwtSecret: optionalStr("JWT_SECRET"),
      jwksUrl: optionalStr("JWT_JWKS_URL"),
      issuer: optionalStr("JWT_ISSUER"),
      audience: optionalStr("JWT_AUDIENCE"),
      perPrincipalRps: int("RATE_LIMIT_RPS", 20, { min: 0 }),
      perPrincipalBurst: int("RATE_LIMIT_BURST", 40, { min: 1 }),
      globalRps: int("RATE_LIMIT_GLOBAL_RPS", 1_000, { min: 0 }),
      globalBurst: int("RATE_LIMIT_GLOBAL_BURST", 2_000, { min: 1 }),
      maxInFlight: int("MAX_IN_FLIGHT", 512, { min: 1 }),
      maxStreams: int("MAX_STREAMS", 1_000, { min: 1 }),
      maxBodyBytes: int("MAX_BODY_BYTES", MiB, { min: 1_024 }),
      maxUploadBytes: int("MAX_UPLOAD_BYTES", 25 * MiB, { min: 1_024 }),
      rpcMaxMessageBytes: int("RPC_MAX_MESSAGE_BYTES", 4 * MiB, { min: 64 * 1024 }),
      idempotencyTtlMs: int("IDEMPOTENCY_TTL_MS", 24 * 60 * 60_000, { min: 1_000 }),
      idempotencyMaxKeys: int("IDEMPOTENCY_MAX_KEYS", 10_000, { min: 1 }),
      idempotencyLeaseMs: int("IDEMPOTENCY_LEASE_MS", 60_000, { min: 1_000 }),
      natsUrl: optionalStr("NATS_URL"),
      eventsPrefix: optionalStr("EVENTS_PREFIX"),
      streamReplicas: int("NATS_STREAM_REPLICAS", 1, { min: 1, max: 5 }),
      metricsPort: int("METRICS_PORT", 9464, { min: -1, max: 65535 }),
      otlpEndpoint: optionalStr("OTEL_EXPORTER_OTLP_ENDPOINT"),
      corsOrigins: optionalStr("CORS_ORIGINS"),
      webDir: optionalStr("WEB_DIR"),
      devCustomerId: str("DEV_CUSTOMER_ID", DEV_CUSTOMER_ID),
      nodeEnv: optionalStr("NODE_ENV"),
    },
    env,
  );
  const problems: string[] = [];
  if (c.jwksUrl) {
    try {
      url("JWT_JWKS_URL", ["https:", "http:"])(env);
    } catch (error) {
      problems.push(...(error as ConfigError).problems);
    }
  }
  let natsUrl = c.natsUrl;
  if (natsUrl) {
    try {
      // One URL or the comma-separated servers of a NATS cluster.
      natsUrl = urlList("NATS_URL", ["nats:", "tls:"])(env);
    } catch (error) {
      problems.push(...(error as ConfigError).problems);
    }
  }
  const devSecret = !c.jwtSecret && !c.jwksUrl;
  if (devSecret && c.nodeEnv === "production") {
    problems.push("JWT_SECRET or JWT_JWKS_URL is required when NODE_ENV=production (the dev secret is public)");
  }
  if (c.jwtSecret && c.jwtSecret.length < 32) problems.push("JWT_SECRET must be at least 32 characters");
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    port: c.port,
    host: listenHost("GATEWAY_HOST", env),
    metricsHost: listenHost("METRICS_HOST", env),
    upstreams: {
      order: c.order,
      inventory: c.inventory,
      payment: c.payment,
      notification: c.notification,
      file: c.file,
      delivery: c.delivery,
      analytics: c.analytics,
    },
    upstreamDeadlineMs: c.upstreamDeadlineMs,
    breakerResetMs: c.breakerResetMs,
    breakerHalfOpenProbes: c.breakerHalfOpenProbes,
    upstreamMaxInFlight: c.upstreamMaxInFlight,
    upstreamMaxQueueMs: c.upstreamMaxQueueMs,
    upstreamRetryAttempts: c.upstreamRetryAttempts,
    jwt: {
      secret: devSecret ? DEV_JWT_SECRET : c.jwtSecret,
      jwksUrl: c.jwksUrl,
      issuer: c.issuer,
      audience: c.audience,
    },
    devSecret,
    rateLimit: {
      perPrincipalRps: c.perPrincipalRps,
      perPrincipalBurst: c.perPrincipalBurst,
      globalRps: c.globalRps,
      globalBurst: c.globalBurst,
    },
    maxInFlight: c.maxInFlight,
    maxStreams: c.maxStreams,
    maxBodyBytes: c.maxBodyBytes,
    maxUploadBytes: c.maxUploadBytes,
    rpcMaxMessageBytes: c.rpcMaxMessageBytes,
    idempotency: { ttlMs: c.idempotencyTtlMs, maxKeys: c.idempotencyMaxKeys, leaseMs: c.idempotencyLeaseMs },
    natsUrl,
    eventsPrefix: c.eventsPrefix,
    streamReplicas: c.streamReplicas,
    metricsPort: c.metricsPort,
    otlpEndpoint: c.otlpEndpoint,
    corsOrigins: (c.corsOrigins ?? "")
      .split(",")
      .map((origin) => origin.trim())
      .filter(Boolean),
    webDir: c.webDir === "off" ? undefined : (c.webDir ?? DEFAULT_WEB_DIR),
    devCustomerId: c.devCustomerId,
  };
}
