import { describe, expect, it } from "@jest/globals";
import { type Span, SpanStatusCode } from "@opentelemetry/api";
import { recordFailure } from "./span-failure.js";

/** The calls a span receives, for asserting on them. */
function fakeSpan() {
  const calls = { exceptions: [] as unknown[], statuses: [] as unknown[] };
  const span = {
    recordException: (exception: unknown) => void calls.exceptions.push(exception),
    setStatus: (status: unknown) => void calls.statuses.push(status),
  } as unknown as Span;
  return { span, calls };
}

describe("recordFailure", () => {
  it("records the error and an ERROR status with its message", () => {
    const { span, calls } = fakeSpan();
    const error = new Error("connection refused");
    recordFailure(span, error);
    expect(calls.exceptions).toEqual([error]);
    expect(calls.statuses).toEqual([{ code: SpanStatusCode.ERROR, message: "connection refused" }]);
  });

  it("names an error without a message by its name, and anything else by its string", () => {
    const { span, calls } = fakeSpan();
    recordFailure(span, new TypeError(""));
    recordFailure(span, 42);
    expect(calls.exceptions[1]).toBe("42");
    expect(calls.statuses).toEqual([
      { code: SpanStatusCode.ERROR, message: "TypeError" },
      { code: SpanStatusCode.ERROR, message: "42" },
    ]);
  });
});
