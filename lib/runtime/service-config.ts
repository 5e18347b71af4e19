import { int, optionalStr, readConfig, url, urlList } from "../config.js";

/** Settings every service process reads, beyond its own. */
export interface RuntimeConfig {
  grpcPort: number;
  metricsPort: number;
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

/** Reads the runtime settings of `service` from the environment (GRPC_PORT, METRICS_PORT, DATABASE_URL, NATS_URL, ...). */
export function readRuntimeConfig(service: ServiceName, env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  const n = SERVICE_PORTS[service];
  return readConfig(
    {
      grpcPort: int("GRPC_PORT", 50050 + n, { min: 0, max: 65535 }),
      metricsPort: int("METRICS_PORT", 9464 + n, { min: 0, max: 65535 }),
      databaseUrl: url("DATABASE_URL", ["postgres:", "postgresql:"], `postgres://postgres:postgres@127.0.0.1:5432/ordermesh_${service}`),
      natsUrl: urlList("NATS_URL", ["nats:", "tls:"], "nats://127.0.0.1:4222"),
      eventsPrefix: optionalStr("EVENTS_PREFIX"),
      streamReplicas: int("NATS_STREAM_REPLICAS", 1, { min: 1, max: 5 }),
      otlpEndpoint: optionalStr("OTEL_EXPORTER_OTLP_ENDPOINT"),
      metricsSampleMs: int("METRICS_SAMPLE_MS", 5_000, { min: 100, max: 600_000 }),
    },
    env,
  );
}
