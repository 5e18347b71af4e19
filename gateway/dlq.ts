import { createRegistry, type Registry } from "@bufbuild/protobuf";
import { file_shop_events_v1_delivery_events } from "../gen/shop/events/v1/delivery_events_pb.js";
import { file_shop_events_v1_file_events } from "../gen/shop/events/v1/file_events_pb.js";
import { file_shop_events_v1_inventory_events } from "../gen/shop/events/v1/inventory_events_pb.js";
import { file_shop_events_v1_notification_events } from "../gen/shop/events/v1/notification_events_pb.js";
import { file_shop_events_v1_order_events } from "../gen/shop/events/v1/order_events_pb.js";
import { file_shop_events_v1_payment_events } from "../gen/shop/events/v1/payment_events_pb.js";
import { Code, ServiceError } from "../lib/errors.js";
// Not lib/events/index.js: that also loads the outbox and consumers, hence MikroORM, knex and pg,
// which the gateway never uses and which cost seconds of its start-up.
import { connectBus, type EventBus } from "../lib/events/bus.js";
import { type DeadLetterDetail, type DeadLetterPage, discardDeadLetter, getDeadLetter, listDeadLetters, replayDeadLetter } from "../lib/events/dead-letters.js";
import { busNames } from "../lib/events/names.js";
import type { Logger } from "../lib/log.js";
import { GatewayError } from "./errors.js";

/** Every domain event type, so a dead letter's payload can be shown as JSON. */
const EVENT_REGISTRY: Registry = createRegistry(
  file_shop_events_v1_order_events,
  file_shop_events_v1_inventory_events,
  file_shop_events_v1_payment_events,
  file_shop_events_v1_notification_events,
  file_shop_events_v1_file_events,
  file_shop_events_v1_delivery_events,
);

/**
 * The dead-letter admin backend (lib/events). The NATS connection is opened on first use and
 * reopened after a failure, so the gateway starts and serves orders while NATS is down; the DLQ
 * routes answer 503 until it is back.
 */
export class DeadLetterAdmin {
  #bus?: Promise<EventBus>;
  #closed = false;

  constructor(private readonly options: { natsUrl?: string; eventsPrefix?: string; streamReplicas?: number; logger: Logger }) {}

  list(options: { limit: number; startSeq: number }): Promise<DeadLetterPage> {
    return this.#run((bus) => listDeadLetters(bus.jsm, bus.names, options));
  }

  get(seq: number): Promise<DeadLetterDetail | undefined> {
    return this.#run((bus) => getDeadLetter(bus.jsm, bus.names, seq, { registry: EVENT_REGISTRY }));
  }

  replay(seq: number): Promise<{ subject: string; eventId: string; streamSeq: number } | undefined> {
    return this.#run((bus) => replayDeadLetter(bus.jsm, bus.names, seq));
  }

  discard(seq: number): Promise<boolean> {
    return this.#run((bus) => discardDeadLetter(bus.jsm, bus.names, seq));
  }

  async close(): Promise<void> {
    this.#closed = true;
    const bus = await this.#bus?.catch(() => undefined);
    await bus?.close().catch(() => undefined);
  }

  async #run<T>(operation: (bus: EventBus) => Promise<T>): Promise<T> {
    const { natsUrl, eventsPrefix, streamReplicas, logger } = this.options;
    if (!natsUrl) throw new GatewayError(Code.UNAVAILABLE, "the dead-letter queue is not configured (NATS_URL is not set)", { httpStatus: 503 });
    if (this.#closed) throw new ServiceError(Code.UNAVAILABLE, "the gateway is shutting down");
    this.#bus ??= connectBus({ natsUrl, names: busNames(eventsPrefix), name: "gateway-dlq-admin", streams: { replicas: streamReplicas ?? 1 } });
    let bus: EventBus;
    try {
      bus = await this.#bus;
    } catch (error) {
      this.#bus = undefined;
      logger.warn({ err: error }, "cannot connect to NATS for the DLQ admin");
      throw new GatewayError(Code.UNAVAILABLE, "the event bus is unavailable; retry later", { retryAfterSeconds: 5 });
    }
    try {
      return await operation(bus);
    } catch (error) {
      if (error instanceof ServiceError) throw error;
      // A message that lies outside the stream's subjects (lib/events refuses to replay it).
      if (error instanceof Error && /outside/.test(error.message)) throw new ServiceError(Code.FAILED_PRECONDITION, error.message);
      if (error instanceof Error && /no message found|not found/i.test(error.message)) return undefined as T;
      logger.warn({ err: error }, "DLQ operation failed");
      throw new GatewayError(Code.UNAVAILABLE, "the event bus did not answer; retry later", { retryAfterSeconds: 1 });
    }
  }
}
