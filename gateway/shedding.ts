/**
 * Load shedding: a request that arrives while `maxInFlight` requests are being served is
 * refused at once (503 / UNAVAILABLE) instead of queueing behind them, so latency stays bounded
 * and an overloaded gateway recovers as soon as the load drops.
 *
 * Tracking streams (SSE and WatchOrder) live for minutes while costing almost nothing; counting
 * them as in-flight requests would let a few hundred watchers shed all other traffic. They have
 * their own limit, `maxStreams`.
 */
export type Slot = "request" | "stream";

export class LoadShedder {
  #requests = 0;
  #streams = 0;

  constructor(private readonly limits: { maxInFlight: number; maxStreams: number }) {}

  get inFlight(): number {
    return this.#requests;
  }

  get streams(): number {
    return this.#streams;
  }

  /** Takes a slot; returns its release function (idempotent), or undefined when full. */
  tryAcquire(kind: Slot = "request"): (() => void) | undefined {
    if (kind === "stream") {
      if (this.#streams >= this.limits.maxStreams) return undefined;
      this.#streams++;
    } else {
      if (this.#requests >= this.limits.maxInFlight) return undefined;
      this.#requests++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (kind === "stream") this.#streams--;
      else this.#requests--;
    };
  }
}
