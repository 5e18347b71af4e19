import { describe, expect, it } from "@jest/globals";
import { context, trace } from "@opentelemetry/api";
import { extractHeaders, getCorrelationId, injectHeaders, isValidCorrelationId, runWithCorrelationId, setupTelemetry } from "./index.js";

describe("telemetry", () => {
  const telemetry = setupTelemetry({ serviceName: "telemetry-test", inMemory: true });

  it("returns the first setup on a second call (globals register once)", () => {
    expect(setupTelemetry({ serviceName: "other" })).toBe(telemetry);
  });

  it("records finished spans in memory with the service name", () => {
    trace.getTracer("t").startSpan("unit-of-work").end();
    const span = telemetry.memory?.getFinishedSpans().find((s) => s.name === "unit-of-work");
    expect(span?.resource.attributes["service.name"]).toBe("telemetry-test");
  });

  it("carries trace context and correlation id through headers", () => {
    const span = trace.getTracer("t").startSpan("parent");
    const headers = context.with(trace.setSpan(context.active(), span), () => runWithCorrelationId("order-7", () => injectHeaders()));
    span.end();
    expect(headers.traceparent).toMatch(new RegExp(`^00-${span.spanContext().traceId}-${span.spanContext().spanId}-01$`));
    expect(headers["x-correlation-id"]).toBe("order-7");

    const extracted = extractHeaders((key) => headers[key]);
    expect(trace.getSpanContext(extracted)?.traceId).toBe(span.spanContext().traceId);
    expect(getCorrelationId(extracted)).toBe("order-7");
  });

  it("keeps out correlation ids that could not travel as gRPC metadata", () => {
    for (const ok of ["order-7", "0190a000-0000-7000-8000-000000000002", "a".repeat(128)]) expect(isValidCorrelationId(ok)).toBe(true);
    for (const bad of ["", "caf\u00e9", "a b", "x\u0000", "line\nbreak", "\u2028", "a".repeat(129)]) {
      expect(isValidCorrelationId(bad)).toBe(false);
      expect(getCorrelationId(extractHeaders((key) => (key === "x-correlation-id" ? bad : undefined)))).toBeUndefined();
      expect(runWithCorrelationId(bad, () => injectHeaders())["x-correlation-id"]).toBeUndefined();
    }
  });

  it("injects nothing outside a span or correlation", () => {
    expect(injectHeaders(context.active())).toEqual({});
  });
});
