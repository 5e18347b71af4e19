import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from "@opentelemetry/api";
import type { DescMethod } from "@bufbuild/protobuf";
import { Metadata, status as Code } from "@grpc/grpc-js";
import { rpcClientObserver, type RpcObserver, rpcServerObserver } from "../metrics/index.js";
import { extractHeaders, getCorrelationId, injectHeaders, ORDER_ID_ATTRIBUTE, withCorrelationId } from "../telemetry/index.js";
import { type OrderIdReader, orderIdReader } from "./order-id.js";
import { methodName } from "./service-definition.js";

const tracer = trace.getTracer("ordermesh.grpc");

/** Codes that are the server's fault (OpenTelemetry rpc semantic conventions). */
const SERVER_FAULTS = new Set<Code>([Code.UNKNOWN, Code.DEADLINE_EXCEEDED, Code.UNIMPLEMENTED, Code.INTERNAL, Code.UNAVAILABLE, Code.DATA_LOSS]);

/** Span name and attributes. Only names and codes: request bodies (card tokens) never go here. */
function spanAttributes(method: DescMethod) {
  return { "rpc.system": "grpc", "rpc.service": method.parent.typeName, "rpc.method": method.name };
}

/**
 * Starts the SERVER span of an incoming call. Its parent and the correlation id come from the
 * request metadata only; the base is the root context so that nothing active inside grpc-js
 * (which may belong to an unrelated earlier call) leaks in. `shop.order.id` is the request's
 * order id, else the caller's correlation id; `orderId` says which (undefined: not known yet).
 */
export function startServerSpan(method: DescMethod, metadata: Metadata, requestOrderId?: string): { span: Span; ctx: Context; orderId?: string } {
  const parent = extractHeaders((key) => firstString(metadata, key), ROOT_CONTEXT);
  const orderId = requestOrderId ?? getCorrelationId(parent);
  const attributes = spanAttributes(method);
  const span = tracer.startSpan(methodName(method), { kind: SpanKind.SERVER, attributes }, parent);
  if (orderId) span.setAttribute(ORDER_ID_ATTRIBUTE, orderId);
  // A request naming its order makes the order the correlation id of everything the handler does.
  return { span, ctx: withCorrelationId(trace.setSpan(parent, span), orderId), orderId };
}

/**
 * Starts the CLIENT span of an outgoing call as a child of `parent`, with `shop.order.id` from
 * the request or the active correlation id.
 */
export function startClientSpan(
  method: DescMethod,
  upstream: string,
  parent: Context,
  requestOrderId?: string,
): { span: Span; ctx: Context; orderId?: string } {
  const orderId = requestOrderId ?? getCorrelationId(parent);
  const span = tracer.startSpan(methodName(method), { kind: SpanKind.CLIENT, attributes: { ...spanAttributes(method), "peer.service": upstream } }, parent);
  if (orderId) span.setAttribute(ORDER_ID_ATTRIBUTE, orderId);
  return { span, ctx: trace.setSpan(parent, span), orderId };
}

/**
 * Records the outcome and ends the span. A client span fails on any non-OK code; a server span
 * only on codes that are the server's fault (NOT_FOUND is a correct answer, not a server error).
 */
export function endSpan(span: Span, kind: SpanKind.SERVER | SpanKind.CLIENT, code: Code, details?: string, cause?: unknown): void {
  span.setAttribute("rpc.grpc.status_code", code);
  const failed = kind === SpanKind.CLIENT ? code !== Code.OK : SERVER_FAULTS.has(code);
  if (failed) span.setStatus({ code: SpanStatusCode.ERROR, message: details });
  if (cause instanceof Error) span.recordException(cause);
  span.end();
}

/** Request metadata: the caller's extra entries, then trace context and correlation id of `ctx`. */
export function outgoingMetadata(ctx: Context, extra: Record<string, string> = {}): Metadata {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(extra)) metadata.set(key, value);
  // Propagation headers win: the active context is the source of truth for trace and correlation.
  for (const [key, value] of Object.entries(injectHeaders(ctx))) metadata.set(key, value);
  return metadata;
}

/** The first string value of a metadata key (binary `-bin` values are ignored). */
export function firstString(metadata: Metadata, key: string): string | undefined {
  const value = metadata.get(key)[0];
  return typeof value === "string" ? value : undefined;
}

/** What the interceptors of one method need, worked out once per method (and upstream). */
export interface MethodTelemetry {
  /** Records the call's duration by status code. */
  readonly observe: RpcObserver;
  /** The order id of a request, for methods whose request carries one. */
  readonly requestOrderId?: OrderIdReader;
  /** The order id of a response (`CreateOrderResponse.order.id`), for methods whose response carries one. */
  readonly responseOrderId?: OrderIdReader;
}

const serverTelemetry = new WeakMap<DescMethod, MethodTelemetry>();

/** The server-side telemetry of `method` (cached: one lookup per call). */
export function serverMethodTelemetry(method: DescMethod): MethodTelemetry {
  let telemetry = serverTelemetry.get(method);
  if (!telemetry) {
    telemetry = {
      observe: rpcServerObserver(method.parent.typeName, method.name),
      requestOrderId: orderIdReader(method.input),
      responseOrderId: orderIdReader(method.output),
    };
    serverTelemetry.set(method, telemetry);
  }
  return telemetry;
}

/** The client-side telemetry of `method` called on `upstream`; make it once per client method. */
export function clientMethodTelemetry(upstream: string, method: DescMethod): MethodTelemetry {
  return {
    observe: rpcClientObserver(upstream, method.parent.typeName, method.name),
    requestOrderId: orderIdReader(method.input),
    responseOrderId: orderIdReader(method.output),
  };
}
