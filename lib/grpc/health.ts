import { HealthImplementation } from "grpc-health-check";
import type { Server } from "@grpc/grpc-js";

/** The grpc.health.v1 status of a server, switched for all of its services at once. */
export interface ServerHealth {
  /** SERVING for "" (the whole server) and every service: ready for traffic. */
  setServing(): void;
  /** NOT_SERVING for all: not ready yet, or draining. */
  setNotServing(): void;
  readonly serving: boolean;
}

/**
 * grpc.health.v1 (Check, Watch, List) for the overall server ("") and each named service.
 * Everything starts NOT_SERVING: a process is ready only once its database, NATS and consumers
 * are, and only the service knows when that is.
 */
export class Health implements ServerHealth {
  readonly #implementation: HealthImplementation;
  readonly #names: readonly string[];
  #serving = false;

  constructor(serviceNames: readonly string[]) {
    this.#names = ["", ...serviceNames];
    const initial = Object.fromEntries(this.#names.map((name) => [name, "NOT_SERVING" as const]));
    this.#implementation = new HealthImplementation(initial);
  }

  get serving(): boolean {
    return this.#serving;
  }

  setServing(): void {
    this.#set(true);
  }

  setNotServing(): void {
    this.#set(false);
  }

  /** Registers grpc.health.v1.Health on `server`. */
  addToServer(server: Server): void {
    this.#implementation.addToServer(server);
  }

  #set(serving: boolean): void {
    this.#serving = serving;
    // setStatus also notifies Watch streams, so load balancers learn of a drain immediately.
    for (const name of this.#names) this.#implementation.setStatus(name, serving ? "SERVING" : "NOT_SERVING");
  }
}
