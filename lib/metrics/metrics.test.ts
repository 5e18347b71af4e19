import { describe, expect, it } from "@jest/globals";
import { consumerMetrics, orderMetrics, platformRegistry, rpcServerObserver, setConsumerPending, setOutbox, trackBreaker } from "./index.js";

/** The value of one series; `name` may be a histogram's `_count`. */
async function value(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const base = name.replace(/_count$/, "");
  const metric = (await platformRegistry.getMetricsAsJSON()).find((m) => m.name === name || m.name === base);
  const values = (metric?.values ?? []) as { value: number; labels: Record<string, string | number>; metricName?: string }[];
  const sample = values.find((v) => (v.metricName ?? metric?.name) === name && Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l));
  return sample?.value;
}

describe("lib/metrics", () => {
  it("counts a consumer's outcomes on series that exist from the start", async () => {
    const metrics = consumerMetrics("test-consumer");
    expect(await value("ordermesh_consumer_events_dead_lettered_total", { consumer: "test-consumer" })).toBe(0);
    metrics.handled(0.002);
    metrics.failed(0.5);
    metrics.retried();
    metrics.deadLettered();
    expect(await value("ordermesh_consumer_events_handled_total", { consumer: "test-consumer" })).toBe(1);
    expect(await value("ordermesh_consumer_events_failed_total", { consumer: "test-consumer" })).toBe(1);
    expect(await value("ordermesh_consumer_events_retried_total", { consumer: "test-consumer" })).toBe(1);
    expect(await value("ordermesh_consumer_events_dead_lettered_total", { consumer: "test-consumer" })).toBe(1);
    expect(await value("ordermesh_consumer_handler_duration_seconds_count", { consumer: "test-consumer", outcome: "error" })).toBe(1);
  });

  it("records RPC durations by status code", async () => {
    const observe = rpcServerObserver("shop.test.v1.TestService", "Ping");
    observe(0, 0.001);
    observe(0, 0.002);
    observe(5, 0.001);
    expect(await value("rpc_server_duration_seconds_count", { rpc_method: "Ping", rpc_grpc_status_code: "0" })).toBe(2);
    expect(await value("rpc_server_duration_seconds_count", { rpc_method: "Ping", rpc_grpc_status_code: "5" })).toBe(1);
  });

  it("reports the worst breaker state per upstream until untracked", async () => {
    let state: 0 | 1 | 2 = 0;
    const untrackA = trackBreaker("test-upstream", () => state);
    const untrackB = trackBreaker("test-upstream", () => 0);
    state = 2;
    expect(await value("ordermesh_circuit_breaker_state", { upstream: "test-upstream" })).toBe(2);
    untrackA();
    expect(await value("ordermesh_circuit_breaker_state", { upstream: "test-upstream" })).toBe(0);
    untrackB();
    expect(await value("ordermesh_circuit_breaker_state", { upstream: "test-upstream" })).toBeUndefined();
  });

  it("keeps sampled gauges until the sampler removes them", async () => {
    setOutbox("test-service", { depth: 3, oldestAgeSeconds: 1.5 });
    setConsumerPending("test-consumer", 7);
    expect(await value("ordermesh_outbox_depth", { service: "test-service" })).toBe(3);
    expect(await value("ordermesh_outbox_oldest_age_seconds", { service: "test-service" })).toBe(1.5);
    expect(await value("ordermesh_consumer_pending_messages", { consumer: "test-consumer" })).toBe(7);
    setOutbox("test-service", undefined);
    setConsumerPending("test-consumer", undefined);
    expect(await value("ordermesh_outbox_depth", { service: "test-service" })).toBeUndefined();
    expect(await value("ordermesh_consumer_pending_messages", { consumer: "test-consumer" })).toBeUndefined();
  });

  it("adds revenue in minor units per currency", async () => {
    const before = (await value("ordermesh_order_revenue_minor_total", { currency: "EUR" })) ?? 0;
    orderMetrics.confirmed("EUR", 1999n);
    expect(await value("ordermesh_order_revenue_minor_total", { currency: "EUR" })).toBe(before + 1999);
    expect(await value("ordermesh_orders_failed_total", { status: "EXPIRED" })).toBe(0);
  });
});
