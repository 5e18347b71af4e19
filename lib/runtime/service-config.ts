import { int, optionalStr, readConfig, url, urlList } from "../config.js";

/** Settings every service process reads, beyond its own. */
export interface RuntimeConfig {
  /** Interface the gRPC server binds (GRPC_HOST, else LISTEN_HOST, default 127.0.0.1; the container sets 0.0.0.0). */
  grpcHost?: string;
  grpcPort: number;
  /** Interface of /metrics and /healthz (METRICS_HOST, else LISTEN_HOST, default 127.0.0.1). */
  metricsHost?: string;
  metricsPort: number;
  /** How often the database and NATS are checked for readiness (HEALTH_CHECK_INTERVAL_MS, default 2 s). */
  healthCheckIntervalMs?: number;
  /**
   * Attempts per gRPC call to another service when the call never reached it (UPSTREAM_RETRY_ATTEMPTS,
   * default 3; jittered, within a retry budget). Set 1 where the mesh (Istio) already retries.
   */
  upstreamRetryAttempts?: number;
  databaseUrl: string;
  /** One NATS URL or a comma-separated list of the servers of a cluster (validated, trimmed). */
  natsUrl: string;
  /** Prefix for stream and subject names; empty in production, unique per test suite. */
  eventsPrefix?: string;
  /** Replicas of SHOP_EVENTS and SHOP_DLQ (NATS_STREAM_REPLICAS: 1 locally, 3 in a cluster). */
  streamReplicas?: number;
  otlpEndpoint?: string;
  /** How often outbox depth, consumer pending counts and DLQ size are sampled for /metrics (METRICS_SAMPLE_MS). */
  metricsSampleMs?: number;
}

/** Default ports: order 50051 ... delivery 50056, analytics 50057; metrics on 9464 + n. */
export const SERVICE_PORTS = { order: 1, inventory: 2, payment: 3, notification: 4, file: 5, delivery: 6, analytics: 7 } as const;
export type ServiceName = keyof typeof SERVICE_PORTS;

/** Where servers listen unless told otherwise: loopback, so a dev machine exposes nothing by accident. */
export const DEFAULT_LISTEN_HOST = "127.0.0.1";

/** The interface for one kind of port: its own variable, else LISTEN_HOST, else loopback. */
export function listenHost(specific: string, env: NodeJS.ProcessEnv = process.env): string {
  return env[specific]?.trim() || env.LISTEN_HOST?.trim() || DEFAULT_LISTEN_HOST;
}

/** Reads the runtime settings of `service` from the environment (GRPC_PORT, METRICS_PORT, LISTEN_HOST, DATABASE_URL, NATS_URL, ...). */
export function readRuntimeConfig(service: ServiceName, env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  const n = SERVICE_PORTS[service];
  const config = readConfig(
    {
      grpcPort: int("GRPC_PORT", 50050 + n, { min: 0, max: 65535 }),
      metricsPort: int("METRICS_PORT", 9464 + n, { min: 0, max: 65535 }),
      databaseUrl: url("DATABASE_URL", ["postgres:", "postgresql:"], `postgres://postgres:postgres@127.0.0.1:5432/ordermesh_${service}`),
      natsUrl: urlList("NATS_URL", ["nats:", "tls:"], "nats://127.0.0.1:4222"),
      eventsPrefix: optionalStr("EVENTS_PREFIX"),
      streamReplicas: int("NATS_STREAM_REPLICAS", 1, { min: 1, max: 5 }),
      otlpEndpoint: optionalStr("OTEL_EXPORTER_OTLP_ENDPOINT"),
      metricsSampleMs: int("METRICS_SAMPLE_MS", 5_000, { min: 100, max: 600_000 }),
      healthCheckIntervalMs: int("HEALTH_CHECK_INTERVAL_MS", 2_000, { min: 100, max: 600_000 }),
      upstreamRetryAttempts: int("UPSTREAM_RETRY_ATTEMPTS", 3, { min: 1, max: 10 }),
    },
    env,
  );
  return { ...config, grpcHost: listenHost("GRPC_HOST", env), metricsHost: listenHost("METRICS_HOST", env) };
}
