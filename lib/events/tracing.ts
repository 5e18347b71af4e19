import { trace } from "@opentelemetry/api";

/** Tracer of the events layer; a proxy, so it follows a provider installed after import. */
export const tracer = trace.getTracer("ordermesh.events");
