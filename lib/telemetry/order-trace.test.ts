import { describe, expect, it } from "@jest/globals";
import { context, trace } from "@opentelemetry/api";
import {
  currentTraceParent,
  getCorrelationId,
  inLinkedTrace,
  inOrderTrace,
  injectHeaders,
  ORDER_ID_ATTRIBUTE,
  runForOrder,
  setupTelemetry,
  traceParentContext,
} from "./index.js";

describe("order traces", () => {
  const telemetry = setupTelemetry({ serviceName: "order-trace-test", inMemory: true });
  const tracer = trace.getTracer("test");
  const finished = (name: string) => telemetry.memory!.getFinishedSpans().find((s) => s.name === name)!;

  /** A span of the order's saga, ended, and its stored traceparent. */
  function sagaStep(name: string): { traceId: string; spanId: string; traceParent: string } {
    const span = tracer.startSpan(name, { root: true });
    const traceParent = context.with(trace.setSpan(context.active(), span), () => currentTraceParent())!;
    span.end();
    return { ...span.spanContext(), traceParent };
  }

  it("stores the active span as a W3C traceparent, and nothing outside a span", () => {
    const step = sagaStep("step");
    expect(step.traceParent).toBe(`00-${step.traceId}-${step.spanId}-01`);
    expect(trace.getSpanContext(traceParentContext(step.traceParent))?.spanId).toBe(step.spanId);
    expect(currentTraceParent()).toBeNull();
  });

  it("tags the active span and the correlation of calls made inside runForOrder", () => {
    const span = tracer.startSpan("CreateOrder");
    const correlation = context.with(trace.setSpan(context.active(), span), () => runForOrder("order-1", () => injectHeaders()["x-correlation-id"]));
    span.end();
    expect(correlation).toBe("order-1");
    expect(finished("CreateOrder").attributes[ORDER_ID_ATTRIBUTE]).toBe("order-1");
  });

  it("continues the order's trace from a request of its own, linking both ways", async () => {
    const saga = sagaStep("order.confirmed");
    const request = tracer.startSpan("UpdateDeliveryStatus", { root: true });
    const seen = await context.with(trace.setSpan(context.active(), request), () =>
      inOrderTrace({ name: "delivery IN_TRANSIT", orderId: "order-2", traceParent: saga.traceParent }, async () => ({
        traceId: trace.getActiveSpan()?.spanContext().traceId,
        correlation: getCorrelationId(),
      })),
    );
    request.end();
    const continued = finished("delivery IN_TRANSIT");
    expect(seen).toEqual({ traceId: saga.traceId, correlation: "order-2" });
    expect(continued.spanContext().traceId).toBe(saga.traceId);
    expect(continued.parentSpanContext?.spanId).toBe(saga.spanId);
    expect(continued.attributes[ORDER_ID_ATTRIBUTE]).toBe("order-2");
    expect(continued.links.map((l) => l.context.spanId)).toEqual([request.spanContext().spanId]);
    expect(finished("UpdateDeliveryStatus").links.map((l) => l.context.traceId)).toEqual([saga.traceId]);
  });

  it("gives timer work a trace of its own, linked to the order's", async () => {
    const saga = sagaStep("inventory.reserved");
    const outer = tracer.startSpan("unrelated", { root: true });
    await context.with(trace.setSpan(context.active(), outer), () =>
      inLinkedTrace({ name: "expire reservation", orderId: "order-3", traceParent: saga.traceParent }, async () => undefined),
    );
    outer.end();
    const expiry = finished("expire reservation");
    expect(expiry.parentSpanContext).toBeUndefined();
    expect([saga.traceId, outer.spanContext().traceId]).not.toContain(expiry.spanContext().traceId);
    expect(expiry.links.map((l) => l.context)).toEqual([expect.objectContaining({ traceId: saga.traceId, spanId: saga.spanId })]);
    expect(expiry.attributes[ORDER_ID_ATTRIBUTE]).toBe("order-3");
  });

  it("records a failure on the span and rethrows it", async () => {
    await expect(inLinkedTrace({ name: "failing retry", traceParent: null }, async () => Promise.reject(new Error("provider down")))).rejects.toThrow(
      "provider down",
    );
    expect(finished("failing retry").status.code).toBe(2);
  });
});
