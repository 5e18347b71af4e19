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
    });
  });

  it("reads stream replicas for a NATS cluster and refuses nonsense", () => {
    expect(readRuntimeConfig("order", { NATS_STREAM_REPLICAS: "3" }).streamReplicas).toBe(3);
    expect(() => readRuntimeConfig("order", { NATS_STREAM_REPLICAS: "0", DATABASE_URL: "mysql://x/y" })).toThrow(ConfigError);
  });
});
