import { describe, expect, it } from "@jest/globals";
import { Writable } from "node:stream";
import { context, trace } from "@opentelemetry/api";
import { pino } from "pino";
import { createLogger, lazyChild } from "./log.js";
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

describe("lazyChild", () => {
  it("builds the child only when a line is written, with the bindings on every line", () => {
    const { lines, stream } = capture();
    const parent = createLogger("order", { level: "info" }, stream);
    let children = 0;
    const original = parent.child;
    parent.child = function (this: typeof parent, ...args: Parameters<typeof parent.child>) {
      children++;
      return original.apply(this, args);
    } as typeof parent.child;
    const log = lazyChild(parent, { event_id: "e1", token: "secret" });
    log.debug("not written");
    expect(children).toBe(0);
    log.info("one");
    log.warn({ extra: 1 }, "two");
    expect(children).toBe(1);
    expect(lines).toEqual([
      expect.objectContaining({ event_id: "e1", msg: "one", level: "info" }),
      expect.objectContaining({ event_id: "e1", msg: "two", level: "warn", extra: 1 }),
    ]);
    // Redacted at the top of a line too, not only one level down.
    expect(JSON.stringify(lines)).not.toContain("secret");
    expect(log.isLevelEnabled("debug")).toBe(false);
    log.child({ more: true }).info("three");
    expect(lines[2]).toMatchObject({ event_id: "e1", more: true, msg: "three" });
  });
});
