import { type Attributes, type Context, context, type Link, propagation, ROOT_CONTEXT, type Span, SpanKind, trace } from "@opentelemetry/api";
import { getCorrelationId, withCorrelationId } from "./propagation.js";
import { recordFailure } from "./span-failure.js";

/**
 * The span attribute that names the order a span is about, so that Jaeger (or any backend)
 * finds every trace of an order by tag: `shop.order.id=<uuid>`.
 */
export const ORDER_ID_ATTRIBUTE = "shop.order.id";

const tracer = trace.getTracer("ordermesh");

/** Sets `shop.order.id` on `span` (default: the active span). */
export function tagOrder(orderId: string | undefined, span: Span | undefined = trace.getActiveSpan()): void {
  if (orderId) span?.setAttribute(ORDER_ID_ATTRIBUTE, orderId);
}

/**
 * Runs `fn` about order `orderId`: the active span gets `shop.order.id`, and calls and events
 * made inside carry the id as correlation id.
 */
export function runForOrder<T>(orderId: string, fn: () => T): T {
  tagOrder(orderId);
  return context.with(withCorrelationId(context.active(), orderId), fn);
}

/**
 * The W3C traceparent of the active span, to store next to work that is picked up later
 * (a queued notification, a delivery, a reservation) so it can continue or link to this trace.
 */
export function currentTraceParent(ctx: Context = context.active()): string | null {
  if (!trace.getSpanContext(ctx)) return null;
  const carrier: { traceparent?: string } = {};
  propagation.inject(ctx, carrier, {
    set: (c, key, value) => {
      if (key === "traceparent") c.traceparent = value;
    },
  });
  return carrier.traceparent ?? null;
}

/** The context a stored traceparent describes (the root context when there is none). */
export function traceParentContext(traceParent: string | null | undefined): Context {
  if (!traceParent) return ROOT_CONTEXT;
  return propagation.extract(
    ROOT_CONTEXT,
    { traceparent: traceParent },
    {
      get: (c, key) => (key === "traceparent" ? c.traceparent : undefined),
      keys: () => ["traceparent"],
    },
  );
}

function linkTo(ctx: Context): Link[] {
  const spanContext = trace.getSpanContext(ctx);
  return spanContext && trace.isSpanContextValid(spanContext) ? [{ context: spanContext }] : [];
}

/** What a span started by `inOrderTrace` or `inLinkedTrace` is about. */
export interface OrderWork {
  /** Span name, e.g. `UpdateDeliveryStatus continues order`. */
  name: string;
  orderId?: string | null;
  /** The order's stored traceparent. */
  traceParent: string | null | undefined;
  kind?: SpanKind;
  attributes?: Attributes;
}

async function run<T>(span: Span, ctx: Context, orderId: string | null | undefined, fn: (span: Span) => Promise<T>): Promise<T> {
  tagOrder(orderId ?? undefined, span);
  const active = withCorrelationId(trace.setSpan(ctx, span), orderId ?? getCorrelationId(ctx));
  try {
    return await context.with(active, () => fn(span));
  } catch (error) {
    recordFailure(span, error);
    throw error;
  } finally {
    span.end();
  }
}

/**
 * Runs `fn` in a span that continues the order's own trace (parent: the stored traceparent)
 * and links to the active span. For a request from outside (an admin moving a delivery) that
 * moves the order's saga on: the request keeps its own trace, which gets a link to the order's,
 * while the events it causes stay in the order's one trace. Without a stored traceparent this
 * is an ordinary child of the active span.
 */
export function inOrderTrace<T>(work: OrderWork, fn: (span: Span) => Promise<T>): Promise<T> {
  const caller = context.active();
  if (!work.traceParent) {
    const span = tracer.startSpan(work.name, { kind: work.kind ?? SpanKind.INTERNAL, attributes: work.attributes }, caller);
    return run(span, caller, work.orderId, fn);
  }
  const parent = traceParentContext(work.traceParent);
  const order = trace.getSpanContext(parent);
  const callerSpan = trace.getSpanContext(caller);
  // Links only join different traces: a caller already inside the order's trace needs none.
  const foreign = order !== undefined && callerSpan !== undefined && callerSpan.traceId !== order.traceId;
  const links = foreign ? linkTo(caller) : [];
  const span = tracer.startSpan(work.name, { kind: work.kind ?? SpanKind.INTERNAL, attributes: work.attributes, links }, parent);
  if (foreign) trace.getSpan(caller)?.addLink({ context: order });
  return run(span, withCorrelationId(parent, getCorrelationId(caller)), work.orderId, fn);
}

/**
 * Runs `fn` in the root span of a new trace linked to the order's trace: for work a sweeper or
 * timer starts (an expired reservation, a notification retry), which belongs to no request
 * but should be reachable from the order's trace and found by `shop.order.id`.
 */
export function inLinkedTrace<T>(work: OrderWork, fn: (span: Span) => Promise<T>): Promise<T> {
  const span = tracer.startSpan(
    work.name,
    { kind: work.kind ?? SpanKind.INTERNAL, attributes: work.attributes, links: linkTo(traceParentContext(work.traceParent)), root: true },
    ROOT_CONTEXT,
  );
  return run(span, ROOT_CONTEXT, work.orderId, fn);
}
