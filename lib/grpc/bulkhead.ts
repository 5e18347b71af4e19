import { status as Code } from "@grpc/grpc-js";
import { UpstreamCallError } from "./status.js";

/**
 * Bounds the calls in flight to one upstream. Calls over the limit wait here, first come first
 * served, until a slot frees, half of their remaining time or `maxWaitMs` has gone, or they are
 * cancelled. `maxWaitMs` bounds the latency queueing adds under overload: the excess is answered
 * UNAVAILABLE at once instead of after seconds, and does not pile up (with its connections) in
 * front of the caller. Time
 * spent waiting is the caller's own queueing: a call that gives up here fails as a `local` error,
 * which no breaker counts against the upstream (a burst of our own retries must not open its
 * circuit). It gives up at half its time rather than at its deadline because a call let through
 * with almost no time left would time out at the upstream, and that failure would be counted
 * against the upstream (a flash sale opened the gateway's circuit to order that way).
 */
export class Bulkhead {
  #inFlight = 0;
  readonly #waiting: { grant: () => void }[] = [];

  constructor(
    private readonly upstream: string,
    private readonly limit: number,
    private readonly maxWaitMs = Infinity,
  ) {}

  get inFlight(): number {
    return this.#inFlight;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  /** Resolves with a release function once the call may start. */
  acquire(deadline: Date, signal?: AbortSignal): Promise<() => void> {
    if (this.#inFlight < this.limit && this.#waiting.length === 0) return Promise.resolve(this.#take());
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          cleanup();
          resolve(this.#take());
        },
      };
      const fail = (error: UpstreamCallError) => {
        cleanup();
        const index = this.#waiting.indexOf(entry);
        if (index >= 0) this.#waiting.splice(index, 1);
        reject(error);
      };
      const timer = setTimeout(
        () =>
          fail(
            new UpstreamCallError(
              Code.UNAVAILABLE,
              `${this.upstream}: too many calls in flight; gave up waiting for a slot`,
              undefined,
              this.upstream,
              undefined,
              true,
            ),
          ),
        Math.max(0, Math.min(this.maxWaitMs, (deadline.getTime() - Date.now()) / 2)),
      );
      const onAbort = () =>
        fail(new UpstreamCallError(Code.CANCELLED, `call to ${this.upstream} cancelled while waiting for a slot`, undefined, this.upstream, undefined, true));
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiting.push(entry);
    });
  }

  #take(): () => void {
    this.#inFlight++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#inFlight--;
      this.#waiting.shift()?.grant();
    };
  }
}
