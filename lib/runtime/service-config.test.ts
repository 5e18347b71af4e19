import { describe, expect, it } from "@jest/globals";
import { ConfigError } from "../config.js";
import { readRuntimeConfig } from "./service-config.js";

describe("readRuntimeConfig", () => {
  it("uses the documented defaults: ports 5005n / 946(4+n), a database per service, R1 streams", () => {
    expect(readRuntimeConfig("payment", {})).toEqual({
      grpcPort: 50053,
      metricsPort: 9467,
      databaseUrl: "postgres://postgres:postgres@127.0.0.1:5432/ordermesh_payment",
      natsUrl: "nats://127.0.0.1:4222",
      eventsPrefix: undefined,
      otlpEndpoint: undefined,
      metricsSampleMs: 5_000,
      streamReplicas: 1,
      healthCheckIntervalMs: 2_000,
      upstreamRetryAttempts: 3,
      grpcHost: "127.0.0.1",
      metricsHost: "127.0.0.1",
    });
  });

  it("gives analytics the seventh ports: 50057 and metrics 9471", () => {
    expect(readRuntimeConfig("analytics", {})).toMatchObject({
      grpcPort: 50057,
      metricsPort: 9471,
      databaseUrl: expect.stringMatching(/ordermesh_analytics$/),
    });
  });

  it("binds loopback by default, LISTEN_HOST for every port, and GRPC_HOST / METRICS_HOST for one", () => {
    expect(readRuntimeConfig("order", { LISTEN_HOST: "0.0.0.0" })).toMatchObject({ grpcHost: "0.0.0.0", metricsHost: "0.0.0.0" });
    expect(readRuntimeConfig("order", { LISTEN_HOST: "::", METRICS_HOST: "127.0.0.1" })).toMatchObject({ grpcHost: "::", metricsHost: "127.0.0.1" });
    expect(readRuntimeConfig("order", { GRPC_HOST: "10.0.0.5" })).toMatchObject({ grpcHost: "10.0.0.5", metricsHost: "127.0.0.1" });
  });

  it("reads stream replicas for a NATS cluster and refuses nonsense", () => {
    expect(readRuntimeConfig("order", { NATS_STREAM_REPLICAS: "3" }).streamReplicas).toBe(3);
    expect(() => readRuntimeConfig("order", { NATS_STREAM_REPLICAS: "0", DATABASE_URL: "mysql://x/y" })).toThrow(ConfigError);
  });

  it("accepts the servers of a NATS cluster as a comma-separated list (charts/ordermesh/ci/production-values.yaml)", () => {
    const cluster = "nats://nats-0.nats:4222, nats://nats-1.nats:4222,nats://nats-2.nats:4222";
    expect(readRuntimeConfig("order", { NATS_URL: cluster }).natsUrl).toBe("nats://nats-0.nats:4222,nats://nats-1.nats:4222,nats://nats-2.nats:4222");
    expect(() => readRuntimeConfig("order", { NATS_URL: "nats://nats-0:4222,nats-1:4222" })).toThrow(/NATS_URL\[1\] must use nats: or tls:/);
  });
});
