import { type DescMessage, fromBinary, type MessageInitShape, type MessageShape, create, toBinary } from "@bufbuild/protobuf";
import { headers } from "@nats-io/transport-node";
import { type EventBus, eventSubject } from "../../lib/events/index.js";
import { uuidv7 } from "../../lib/ids.js";
import { waitFor } from "./index.js";

/**
 * Reads a test's event stream from the start, in order: tests wait for the event a service
 * should publish (`expectEvent`) and assert on what was published (`events`).
 */
export class EventLog {
  #nextSeq = 1;
  readonly #seen: { subject: string; data: Uint8Array; headers: Record<string, string> }[] = [];

  constructor(private readonly bus: EventBus) {}

  async #catchUp(): Promise<void> {
    const info = await this.bus.jsm.streams.info(this.bus.names.stream);
    for (; this.#nextSeq <= info.state.last_seq; this.#nextSeq++) {
      const msg = await this.bus.jsm.streams.getMessage(this.bus.names.stream, { seq: this.#nextSeq }).catch(() => null);
      if (!msg) continue;
      const hdrs: Record<string, string> = {};
      for (const [key, values] of msg.header ?? []) hdrs[key] = values[0];
      this.#seen.push({ subject: msg.subject, data: msg.data, headers: hdrs });
    }
  }

  /** Every event of type `schema` published so far (optionally only one order's). */
  async events<Desc extends DescMessage>(schema: Desc, orderId?: string): Promise<MessageShape<Desc>[]> {
    await this.#catchUp();
    const subject = eventSubject(this.bus.names, schema);
    return this.#seen
      .filter((m) => m.subject === subject)
      .map((m) => fromBinary(schema, m.data))
      .filter((e) => orderId === undefined || (e as { orderId?: string }).orderId === orderId);
  }

  /** Waits until an event of type `schema` for `orderId` has been published, and returns it. */
  async expectEvent<Desc extends DescMessage>(schema: Desc, orderId: string, timeoutMs = 10_000): Promise<MessageShape<Desc>> {
    return waitFor(async () => (await this.events(schema, orderId))[0], { timeoutMs, message: `${schema.typeName} for order ${orderId}` });
  }
}

/**
 * Publishes an event as another service's relay would; returns its event id. A `msgId` other
 * than the event id gets past the stream's de-duplication: a redelivery of the same event.
 */
export async function publishEvent<Desc extends DescMessage>(
  bus: EventBus,
  schema: Desc,
  message: MessageInitShape<Desc>,
  eventId: string = uuidv7(),
  msgId: string = eventId,
): Promise<string> {
  const h = headers();
  h.set("event-id", eventId);
  h.set("event-type", schema.typeName);
  await bus.js.publish(eventSubject(bus.names, schema), toBinary(schema, create(schema, message)), { msgID: msgId, headers: h });
  return eventId;
}
