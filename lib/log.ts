import { type DestinationStream, pino, type Logger, type LoggerOptions } from "pino";
import { currentTraceIds, getCorrelationId } from "./telemetry/propagation.js";

export type { Logger } from "pino";

/** Keys whose values never reach a log line, wherever they appear. */
const REDACTED = ["*.token", "*.payment_method", "*.paymentMethod", "*.card_number", "*.authorization", "*.password"];

/**
 * A pino JSON logger for one process. Every line carries the service name and, when there is
 * one in the active context, trace_id, span_id and correlation_id, so a log query by order id
 * or trace id finds every line of a saga across services.
 */
export function createLogger(service: string, options: LoggerOptions = {}, destination?: DestinationStream): Logger {
  const settings: LoggerOptions = {
    level: process.env.LOG_LEVEL ?? "info",
    base: { service },
    messageKey: "msg",
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: REDACTED, censor: "[redacted]" },
    mixin() {
      const correlationId = getCorrelationId();
      return correlationId ? { ...currentTraceIds(), correlation_id: correlationId } : currentTraceIds();
    },
    ...options,
  };
  return destination ? pino(settings, destination) : pino(settings);
}
