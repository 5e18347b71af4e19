import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from "@opentelemetry/api";
import type { DescMethod } from "@bufbuild/protobuf";
import { Metadata, status as Code } from "@grpc/grpc-js";
import { extractHeaders, injectHeaders } from "../telemetry/index.js";
import { methodName } from "./service-definition.js";

const tracer = trace.getTracer("ordermesh.grpc");

/** Codes that are the server's fault (OpenTelemetry rpc semantic conventions). */
const SERVER_FAULTS = new Set<Code>([
  Code.UNKNOWN,
  Code.DEADLINE_EXCEEDED,
  Code.UNIMPLEMENTED,
  Code.INTERNAL,
  Code.UNAVAILABLE,
  Code.DATA_LOSS,
]);

/** Span name and attributes. Only names and codes: request bodies (card tokens) never go here. */
function spanAttributes(method: DescMethod) {
  return { "rpc.system": "grpc", "rpc.service": method.parent.typeName, "rpc.method": method.name };
}

/**
 * Starts the SERVER span of an incoming call. Its parent and the correlation id come from the
 * request metadata only; the base is the root context so that nothing active inside grpc-js
 * (which may belong to an unrelated earlier call) leaks in.
 */
export function startServerSpan(method: DescMethod, metadata: Metadata): { span: Span; ctx: Context } {
  const parent = extractHeaders((key) => firstString(metadata, key), ROOT_CONTEXT);
  const options = { kind: SpanKind.SERVER, attributes: spanAttributes(method) };
  const span = tracer.startSpan(methodName(method), options, parent);
  return { span, ctx: trace.setSpan(parent, span) };
}

/** Starts the CLIENT span of an outgoing call as a child of the active context. */
export function startClientSpan(method: DescMethod, upstream: string, parent: Context): { span: Span; ctx: Context } {
  const span = tracer.startSpan(
    methodName(method),
    { kind: SpanKind.CLIENT, attributes: { ...spanAttributes(method), "peer.service": upstream } },
    parent,
  );
  return { span, ctx: trace.setSpan(parent, span) };
}

/**
 * Records the outcome and ends the span. A client span fails on any non-OK code; a server span
 * only on codes that are the server's fault (NOT_FOUND is a correct answer, not a server error).
 */
export function endSpan(
  span: Span,
  kind: SpanKind.SERVER | SpanKind.CLIENT,
  code: Code,
  details?: string,
  cause?: unknown,
): void {
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
