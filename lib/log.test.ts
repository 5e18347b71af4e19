import { describe, expect, it } from "@jest/globals";
import { Writable } from "node:stream";
import { context, trace } from "@opentelemetry/api";
import { pino } from "pino";
import { createLogger } from "./log.js";
import { runWithCorrelationId, setupTelemetry } from "./telemetry/index.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { lines, stream };
}

describe("createLogger", () => {
  setupTelemetry({ serviceName: "log-test", inMemory: true });

  it("writes JSON with service, level and message", () => {
    const { lines, stream } = capture();
    const log = createLogger("order", {}, stream);
    log.info({ order_id: "o1" }, "order created");
    expect(lines[0]).toMatchObject({ service: "order", level: "info", msg: "order created", order_id: "o1" });
  });

  it("adds trace_id, span_id and correlation_id from the active context", () => {
    const { lines, stream } = capture();
    const log = createLogger("order", {}, stream);
    const span = trace.getTracer("test").startSpan("work");
    context.with(trace.setSpan(context.active(), span), () => runWithCorrelationId("order-42", () => log.info("inside")));
    span.end();
    expect(lines[0]).toMatchObject({
      trace_id: span.spanContext().traceId,
      span_id: span.spanContext().spanId,
      correlation_id: "order-42",
    });
  });

  it("never writes payment tokens or card numbers", () => {
    const { lines, stream } = capture();
    const log = createLogger("payment", {}, stream);
    log.info({ request: { payment_method: { token: "tok_secret" }, card_number: "4242424242424242" } }, "charge");
    expect(JSON.stringify(lines[0])).not.toContain("tok_secret");
    expect(JSON.stringify(lines[0])).not.toContain("4242424242424242");
  });

  it("is a pino logger", () => {
    expect(createLogger("x", { level: "silent" }).level).toBe(pino({ level: "silent" }).level);
  });
});
