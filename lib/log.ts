import { type DestinationStream, pino, type Logger, type LoggerOptions } from "pino";
import { currentTraceIds, getCorrelationId } from "./telemetry/propagation.js";

export type { Logger } from "pino";

/** Keys whose values never reach a log line, wherever they appear. */
const SECRET_KEYS = ["token", "payment_method", "paymentMethod", "card_number", "authorization", "password"];
// At the top of a line (a binding or a logged field) and one level down (an object logged under a key).
const REDACTED = [...SECRET_KEYS, ...SECRET_KEYS.map((key) => `*.${key}`)];

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

const LEVELS = new Set(["trace", "debug", "info", "warn", "error", "fatal"]);
const noop = () => {};

/**
 * `parent.child(bindings)`, built only when something is logged through it. Creating a pino
 * child serializes (and redacts) its bindings at once: per event or call, that showed up in
 * profiles although most of those loggers never write a line. A call at a disabled level is a
 * no-op that builds nothing.
 */
export function lazyChild(parent: Logger, bindings: Record<string, unknown>): Logger {
  let child: Logger | undefined;
  return new Proxy(parent, {
    get(_target, key) {
      if (child === undefined && typeof key === "string" && LEVELS.has(key) && !parent.isLevelEnabled(key)) return noop;
      child ??= parent.child(bindings);
      const value: unknown = Reflect.get(child, key, child);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(child) : value;
    },
  });
}
