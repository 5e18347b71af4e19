import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Code } from "../lib/errors.js";
import type { Logger } from "../lib/log.js";
import { GatewayError } from "./errors.js";

/**
 * The gateway's NATS connection for shared state (idempotency records, fault flags), opened on
 * first use and again after a failed attempt, so the gateway starts and serves while NATS is
 * down; what needs NATS answers 503 until it is back. Once open, it reconnects by itself.
 */
export class LazyNats {
  #connection?: Promise<NatsConnection>;
  #closed = false;

  constructor(private readonly options: { natsUrl: string; name: string; logger: Logger }) {}

  async get(): Promise<NatsConnection> {
    if (this.#closed) throw new GatewayError(Code.UNAVAILABLE, "the gateway is shutting down");
    this.#connection ??= connect({
      servers: this.options.natsUrl.split(",").map((url) => url.trim()),
      name: this.options.name,
      maxReconnectAttempts: -1,
      // No Error (stack capture) built per KV request in case it fails: see lib/events/bus.ts.
      noAsyncTraces: true,
    });
    try {
      return await this.#connection;
    } catch (error) {
      this.#connection = undefined;
      this.options.logger.warn({ err: error }, "cannot connect to NATS");
      throw new GatewayError(Code.UNAVAILABLE, "shared gateway state (NATS) is unavailable; retry later", { retryAfterSeconds: 2 });
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const nc = await this.#connection?.catch(() => undefined);
    await nc?.drain().catch(() => undefined);
  }
}
