import CircuitBreaker from "opossum";
import { status as Code } from "@grpc/grpc-js";
import { isInfrastructureCode, ServiceError } from "../errors.js";
import type { Logger } from "../log.js";

/** Tuning of the circuit breaker of one upstream. */
export interface BreakerOptions {
  /**
   * Upper bound for the deadline of unary calls. The breaker has no timer of its own (opossum's
   * `timeout` is off): the deadline ends slow calls, and DEADLINE_EXCEEDED counts as a failure.
   */
  timeoutMs?: number;
  /** Failure percentage over the rolling window that opens the circuit (default 50). */
  errorThresholdPercentage?: number;
  /** How long the circuit stays open before one trial call is let through (default 10 s). */
  resetTimeoutMs?: number;
  /** Calls in the rolling window before the percentage counts at all (default 10). */
  volumeThreshold?: number;
  /** Length of the rolling statistics window (default 10 s). */
  rollingWindowMs?: number;
}

/** An opossum breaker that runs thunks: one per upstream, shared by all its methods. */
export type Breaker = CircuitBreaker<[() => Promise<unknown>], unknown>;

/**
 * True if `err` says the upstream is unhealthy: UNAVAILABLE (includes refused connections),
 * DEADLINE_EXCEEDED, INTERNAL, UNKNOWN. Business answers (NOT_FOUND, INVALID_ARGUMENT,
 * FAILED_PRECONDITION, ...) prove the upstream works, and the caller's own cancellation or bad
 * input says nothing about it.
 */
export function isUpstreamFailure(err: unknown): boolean {
  return err instanceof ServiceError && isInfrastructureCode(err.code);
}

/** A breaker for upstream `name`; logs its state changes. */
export function createBreaker(name: string, options: BreakerOptions = {}, logger?: Logger): Breaker {
  const breaker: Breaker = new CircuitBreaker((thunk: () => Promise<unknown>) => thunk(), {
    name,
    timeout: false,
    errorThresholdPercentage: options.errorThresholdPercentage ?? 50,
    resetTimeout: options.resetTimeoutMs ?? 10_000,
    volumeThreshold: options.volumeThreshold ?? 10,
    rollingCountTimeout: options.rollingWindowMs ?? 10_000,
    // opossum: true means "not a failure".
    errorFilter: (err: unknown) => !isUpstreamFailure(err),
  });
  breaker.on("open", () => logger?.warn({ upstream: name }, "circuit opened: failing fast"));
  breaker.on("halfOpen", () => logger?.info({ upstream: name }, "circuit half-open: trying one call"));
  breaker.on("close", () => logger?.info({ upstream: name }, "circuit closed"));
  return breaker;
}

/**
 * Runs `thunk` through the breaker. Its own refusals become ServiceErrors a caller can handle
 * like any other outage: UNAVAILABLE "<name> unavailable (circuit open)".
 */
export async function throughBreaker<T>(breaker: Breaker, thunk: () => Promise<T>): Promise<T> {
  try {
    return (await breaker.fire(thunk)) as T;
  } catch (err) {
    throw breakerRefusal(breaker, err) ?? err;
  }
}

function breakerRefusal(breaker: Breaker, err: unknown): ServiceError | undefined {
  switch ((err as { code?: unknown } | undefined)?.code) {
    case "EOPENBREAKER":
      return new ServiceError(Code.UNAVAILABLE, `${breaker.name} unavailable (circuit open)`);
    case "ESHUTDOWN":
      return new ServiceError(Code.UNAVAILABLE, `${breaker.name} client is closed`);
    default:
      return undefined;
  }
}
