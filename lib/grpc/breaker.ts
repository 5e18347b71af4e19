import { EventEmitter } from "node:events";
import { status as Code } from "@grpc/grpc-js";
import { isInfrastructureCode, ServiceError } from "../errors.js";
import type { Logger } from "../log.js";

/** Tuning of the circuit breaker of one upstream. */
export interface BreakerOptions {
  /**
   * Upper bound for the deadline of unary calls. The breaker has no timer of its own: the
   * deadline ends slow calls, and DEADLINE_EXCEEDED counts as a failure.
   */
  timeoutMs?: number;
  /** Failure percentage over the rolling window that opens the circuit (default 50). */
  errorThresholdPercentage?: number;
  /** How long the circuit stays open before trial calls are let through (default 10 s, ±10% jitter). */
  resetTimeoutMs?: number;
  /** Calls in the rolling window before the percentage counts at all (default 10). */
  volumeThreshold?: number;
  /** Length of the rolling statistics window (default 10 s). */
  rollingWindowMs?: number;
  /**
   * Trial calls let through at once while half-open (default 3). The first that succeeds closes
   * the circuit; it opens again only when this many trials in a row failed, so one unlucky trial
   * (a call that queued behind a burst of retries) does not cost another reset period.
   */
  halfOpenProbes?: number;
}

/** Counters over the rolling window (fires = calls offered, including those refused). */
export interface BreakerStats {
  fires: number;
  successes: number;
  failures: number;
  rejects: number;
}

type State = "closed" | "open" | "half_open" | "shutdown";

const BUCKETS = 10;

/** Rolling counters in BUCKETS slices of the window, rotated lazily on access. */
class RollingWindow {
  #buckets: BreakerStats[] = Array.from({ length: BUCKETS }, empty);
  #bucketStart = 0;

  constructor(
    private readonly bucketMs: number,
    private readonly now: () => number,
  ) {
    this.#bucketStart = now();
  }

  add(counter: keyof BreakerStats): void {
    this.#rotate();
    this.#buckets[0][counter]++;
  }

  get totals(): BreakerStats {
    this.#rotate();
    const totals = empty();
    for (const bucket of this.#buckets) {
      totals.fires += bucket.fires;
      totals.successes += bucket.successes;
      totals.failures += bucket.failures;
      totals.rejects += bucket.rejects;
    }
    return totals;
  }

  reset(): void {
    this.#buckets = Array.from({ length: BUCKETS }, empty);
    this.#bucketStart = this.now();
  }

  #rotate(): void {
    const elapsed = Math.floor((this.now() - this.#bucketStart) / this.bucketMs);
    if (elapsed <= 0) return;
    for (let i = 0; i < Math.min(elapsed, BUCKETS); i++) {
      this.#buckets.pop();
      this.#buckets.unshift(empty());
    }
    this.#bucketStart += elapsed * this.bucketMs;
  }
}

function empty(): BreakerStats {
  return { fires: 0, successes: 0, failures: 0, rejects: 0 };
}

/** A refusal by the breaker itself; `throughBreaker` turns it into UNAVAILABLE. */
class BreakerRefusal extends Error {
  constructor(readonly code: "EOPENBREAKER" | "ESHUTDOWN") {
    super(code === "EOPENBREAKER" ? "Breaker is open" : "Breaker is shut down");
  }
}

/**
 * A circuit breaker for one upstream, shared by all its methods. Closed, it counts outcomes over
 * a rolling window and opens when the failure percentage passes the threshold. Open, it refuses
 * calls for resetTimeoutMs (with jitter, so replicas that opened together do not all probe at the
 * same instant). Half-open, it admits a bounded number of trial calls. Closing starts a fresh
 * window: the failures of the outage must not reopen a circuit whose upstream has recovered.
 * Events: "open", "halfOpen", "close".
 */
export class Breaker extends EventEmitter {
  readonly name: string;
  #state: State = "closed";
  readonly #window: RollingWindow;
  readonly #threshold: number;
  readonly #resetMs: number;
  readonly #volume: number;
  readonly #probes: number;
  #probesInFlight = 0;
  #probeFailures = 0;
  #timer?: NodeJS.Timeout;

  constructor(
    name: string,
    options: BreakerOptions = {},
    private readonly isFailure: (error: unknown) => boolean = isUpstreamFailure,
    now: () => number = Date.now,
  ) {
    super();
    this.name = name;
    this.#threshold = options.errorThresholdPercentage ?? 50;
    this.#resetMs = options.resetTimeoutMs ?? 10_000;
    this.#volume = options.volumeThreshold ?? 10;
    this.#probes = Math.max(1, options.halfOpenProbes ?? 3);
    this.#window = new RollingWindow(Math.max(1, Math.floor((options.rollingWindowMs ?? 10_000) / BUCKETS)), now);
  }

  get closed(): boolean {
    return this.#state === "closed";
  }

  get opened(): boolean {
    return this.#state === "open";
  }

  get halfOpen(): boolean {
    return this.#state === "half_open";
  }

  get stats(): BreakerStats {
    return this.#window.totals;
  }

  /** Runs `thunk` unless the circuit refuses it, and records its outcome. */
  async fire<T>(thunk: () => Promise<T>): Promise<T> {
    this.#window.add("fires");
    if (this.#state === "shutdown") throw this.#refuse("ESHUTDOWN");
    if (this.#state === "open") throw this.#refuse("EOPENBREAKER");
    const probe = this.#state === "half_open";
    if (probe) {
      if (this.#probesInFlight >= this.#probes) throw this.#refuse("EOPENBREAKER");
      this.#probesInFlight++;
    }
    try {
      const result = await thunk();
      this.#record(true, probe);
      return result;
    } catch (error) {
      this.#record(!this.isFailure(error), probe);
      throw error;
    } finally {
      if (probe) this.#probesInFlight = Math.max(0, this.#probesInFlight - 1);
    }
  }

  /** Refuses every later call and stops the reset timer. */
  shutdown(): void {
    clearTimeout(this.#timer);
    this.#state = "shutdown";
  }

  #refuse(code: "EOPENBREAKER" | "ESHUTDOWN"): BreakerRefusal {
    this.#window.add("rejects");
    return new BreakerRefusal(code);
  }

  #record(ok: boolean, probe: boolean): void {
    this.#window.add(ok ? "successes" : "failures");
    if (this.#state === "shutdown") return;
    if (probe || this.#state === "half_open") {
      if (ok) this.#close();
      else if (++this.#probeFailures >= this.#probes) this.#open();
      return;
    }
    if (ok || this.#state !== "closed") return;
    const { successes, failures } = this.#window.totals;
    const total = successes + failures;
    if (total >= this.#volume && (failures / total) * 100 > this.#threshold) this.#open();
  }

  #open(): void {
    this.#state = "open";
    this.#probeFailures = 0;
    clearTimeout(this.#timer);
    const jittered = this.#resetMs * (0.9 + Math.random() * 0.2);
    this.#timer = setTimeout(() => this.#halfOpen(), jittered);
    this.#timer.unref();
    this.emit("open");
  }

  #halfOpen(): void {
    if (this.#state !== "open") return;
    this.#state = "half_open";
    this.#probeFailures = 0;
    this.emit("halfOpen");
  }

  #close(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#probeFailures = 0;
    this.#window.reset();
    this.emit("close");
  }
}

/**
 * True if `err` says this hop is unhealthy: UNAVAILABLE (includes refused connections),
 * DEADLINE_EXCEEDED, INTERNAL, UNKNOWN. Business answers (NOT_FOUND, INVALID_ARGUMENT,
 * FAILED_PRECONDITION, ...) prove the upstream works, and the caller's own cancellation or bad
 * input says nothing about it. Nor does an error the upstream marked as the failure of ITS
 * upstream (`dependency`), or one raised on our side before the call left (`local`).
 */
export function isUpstreamFailure(err: unknown): boolean {
  if (!(err instanceof ServiceError) || !isInfrastructureCode(err.code)) return false;
  const marks = err as { dependency?: string; local?: boolean };
  return !marks.dependency && !marks.local;
}

/** A breaker for upstream `name`; logs its state changes. */
export function createBreaker(name: string, options: BreakerOptions = {}, logger?: Logger): Breaker {
  const breaker = new Breaker(name, options);
  breaker.on("open", () => logger?.warn({ upstream: name }, "circuit opened: failing fast"));
  breaker.on("halfOpen", () => logger?.info({ upstream: name, probes: options.halfOpenProbes ?? 3 }, "circuit half-open: trying a few calls"));
  breaker.on("close", () => logger?.info({ upstream: name }, "circuit closed"));
  return breaker;
}

/** The error a call refused by an open circuit fails with: UNAVAILABLE, and marked as raised here. */
export class CircuitOpenError extends ServiceError {
  /** Never reached the upstream: no breaker (this one or a caller's) counts it. */
  readonly local = true;
  constructor(
    readonly upstream: string,
    message: string,
  ) {
    super(Code.UNAVAILABLE, message);
    this.name = "CircuitOpenError";
  }
}

/**
 * Runs `thunk` through the breaker. Its own refusals become ServiceErrors a caller can handle
 * like any other outage: UNAVAILABLE "<name> unavailable (circuit open)".
 */
export async function throughBreaker<T>(breaker: Breaker, thunk: () => Promise<T>): Promise<T> {
  try {
    return await breaker.fire(thunk);
  } catch (err) {
    if (err instanceof BreakerRefusal) {
      throw new CircuitOpenError(breaker.name, err.code === "EOPENBREAKER" ? `${breaker.name} unavailable (circuit open)` : `${breaker.name} client is closed`);
    }
    throw err;
  }
}
