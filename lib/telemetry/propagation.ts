import { type Context, context, createContextKey, propagation, trace } from "@opentelemetry/api";

/** Header / metadata key that carries the correlation id (the order id, where there is one). */
export const CORRELATION_HEADER = "x-correlation-id";

const correlationKey = createContextKey("ordermesh.correlation_id");

/** The correlation id of the current context, if any. */
export function getCorrelationId(ctx: Context = context.active()): string | undefined {
  return ctx.getValue(correlationKey) as string | undefined;
}

/**
 * True for a correlation id that may travel as gRPC metadata, NATS header and log field:
 * 1 to 128 visible ASCII characters. grpc-js throws on anything else when it builds the
 * metadata of the next call, so other values never enter a context.
 */
export function isValidCorrelationId(id: string): boolean {
  return /^[\x21-\x7e]{1,128}$/.test(id);
}

/** A context that carries `id` as correlation id; an id that is not valid is left out. */
export function withCorrelationId(ctx: Context, id: string | undefined): Context {
  return id && isValidCorrelationId(id) ? ctx.setValue(correlationKey, id) : ctx;
}

/** Runs `fn` with `id` as the correlation id of the active context. */
export function runWithCorrelationId<T>(id: string | undefined, fn: () => T): T {
  return context.with(withCorrelationId(context.active(), id), fn);
}

/** Trace context (traceparent, tracestate, baggage) and correlation id as string headers. */
export function injectHeaders(ctx: Context = context.active()): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  const correlationId = getCorrelationId(ctx);
  if (correlationId) carrier[CORRELATION_HEADER] = correlationId;
  return carrier;
}

/** The context described by headers written by `injectHeaders` (any case-insensitive getter). */
export function extractHeaders(get: (key: string) => string | undefined, base: Context = context.active()): Context {
  const ctx = propagation.extract(base, undefined, {
    get: (_carrier, key) => get(key),
    keys: () => ["traceparent", "tracestate", "baggage"],
  });
  return withCorrelationId(ctx, get(CORRELATION_HEADER));
}

/** trace_id and span_id of the active span, for log lines. */
export function currentTraceIds(ctx: Context = context.active()): { trace_id?: string; span_id?: string } {
  const spanContext = trace.getSpan(ctx)?.spanContext();
  if (!spanContext || !trace.isSpanContextValid(spanContext)) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}
