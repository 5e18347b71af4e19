import { describe, expect, it } from "@jest/globals";
import { ConfigError } from "../../lib/config.js";
import { readPaymentConfig } from "./service.js";

describe("readPaymentConfig", () => {
  it("has defaults for the provider settings", () => {
    expect(readPaymentConfig({})).toMatchObject({
      grpcPort: 50053,
      providerLatencyMs: 0,
      providerFailureRate: 0,
      providerTimeoutMs: 3_000,
      consumerConcurrency: 4,
    });
  });

  it("reads latency, failure rate and timeout from the environment", () => {
    expect(readPaymentConfig({ PAYMENT_PROVIDER_LATENCY_MS: "25", PAYMENT_PROVIDER_FAILURE_RATE: "0.2", PAYMENT_PROVIDER_TIMEOUT_MS: "500" })).toMatchObject({
      providerLatencyMs: 25,
      providerFailureRate: 0.2,
      providerTimeoutMs: 500,
    });
    expect(readPaymentConfig({ PAYMENT_PROVIDER_FAILURE_RATE: "1" }).providerFailureRate).toBe(1);
  });

  it("names every bad variable", () => {
    expect(() => readPaymentConfig({ PAYMENT_PROVIDER_FAILURE_RATE: "1.5", PAYMENT_PROVIDER_TIMEOUT_MS: "0" })).toThrow(ConfigError);
    try {
      readPaymentConfig({ PAYMENT_PROVIDER_FAILURE_RATE: "-0.1", PAYMENT_PROVIDER_TIMEOUT_MS: "abc" });
    } catch (error) {
      expect((error as ConfigError).problems).toEqual([
        expect.stringContaining("PAYMENT_PROVIDER_FAILURE_RATE"),
        expect.stringContaining("PAYMENT_PROVIDER_TIMEOUT_MS"),
      ]);
    }
  });
});
