import { type Span, SpanStatusCode } from "@opentelemetry/api";

/**
 * Marks `span` as failed by `error`: an exception event and ERROR status with the error's
 * message. The caller still rethrows and ends the span.
 */
export function recordFailure(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message || error.name : String(error) });
}
