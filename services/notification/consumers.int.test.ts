import type { DescMessage } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { AckPolicy, DeliverPolicy, type JsMsg } from "@nats-io/jetstream";
import { FileInvoiceGeneratedSchema } from "../../gen/shop/events/v1/file_events_pb.js";
import {
  OrderCancelledSchema,
  OrderConfirmedSchema,
  OrderCreatedSchema,
  OrderDeliveredSchema,
  OrderShippedSchema,
} from "../../gen/shop/events/v1/order_events_pb.js";
import { sql } from "../../lib/db/index.js";
import { eventSubject, listDeadLetters } from "../../lib/events/index.js";
import { uuidv7 } from "../../lib/ids.js";
import type { RunningService } from "../../lib/runtime/index.js";
import { publishEvent } from "../../test/harness/event-log.js";
import { waitFor } from "../../test/harness/index.js";
import { asOneDelivery } from "../../test/harness/one-delivery.js";
import { createTestRuntime, type TestRuntime } from "../../test/harness/runtime.js";
import { NOTIFICATION_CONSUMER, RETIRED_CONSUMERS } from "./consumers.js";
import { start } from "./service.js";

const SETTINGS = { latencyMs: 0, failureRate: 0, maxAttempts: 4, retryBaseMs: 50, pollMs: 50, sendTimeoutMs: 2_000 };

function created(orderId: string, customerId = uuidv7()) {
  return {
    orderId,
    customerId,
    total: { currencyCode: "EUR", amountMinor: 1999n },
    customerEmail: "jane@example.com",
    customerPhone: "+49 30 1234567",
    customerName: "Jane",
  };
}

/** Waits until `consumer` has handled every event published so far. */
async function settled(runtime: TestRuntime, consumer = NOTIFICATION_CONSUMER): Promise<void> {
  await waitFor(
    async () => {
      const info = await runtime.bus.jsm.consumers.info(runtime.bus.names.stream, consumer);
      return info.num_pending === 0 && info.num_ack_pending === 0;
    },
    // A failed batch is applied again one event at a time: seconds on a loaded machine.
    { message: `${consumer} to handle everything published`, timeoutMs: 20_000 },
  );
}

/** [order id, template, channel] of the notifications queued for `orderIds`, in queue order. */
async function queued(service: RunningService, orderIds: string[]): Promise<string[][]> {
  const rows = await sql<{ order_id: string; template: string; channel: string }>(
    service.orm.em.fork(),
    "SELECT order_id, template, channel FROM notification_log WHERE order_id = ANY(?::uuid[]) ORDER BY id",
    [orderIds],
  );
  return rows.map((r) => [r.order_id, r.template, r.channel]);
}

async function consumerNames(runtime: TestRuntime): Promise<string[]> {
  const names: string[] = [];
  for await (const info of runtime.bus.jsm.consumers.list(runtime.bus.names.stream)) names.push(info.name);
  return names.sort();
}

describe("notification-events: batches", () => {
  let runtime: TestRuntime;
  let service: RunningService;

  beforeAll(async () => {
    runtime = await createTestRuntime();
    const config = await runtime.config("notification");
    // A consumer of the old per-event-type kind, as a deployment upgraded in place still has.
    await runtime.bus.jsm.consumers.add(runtime.bus.names.stream, { durable_name: RETIRED_CONSUMERS[0], filter_subject: `${runtime.bus.names.subjectRoot}.>` });
    service = await start({ ...config, ...SETTINGS }, { logger: runtime.logger });
  });

  afterAll(async () => {
    await service?.stop();
    await runtime?.cleanup();
  });

  const query = <T = Record<string, unknown>>(text: string, params: unknown[] = []) => sql<T>(service.orm.em.fork(), text, params);

  const drained = () => settled(runtime);

  async function logRows(orderIds: string[]) {
    return query<{ order_id: string; event_id: string; channel: string; template: string; subject: string; trace_parent: string | null; tx: string }>(
      "SELECT order_id, event_id, channel, template, subject, trace_parent, xmin::text AS tx FROM notification_log WHERE order_id = ANY(?::uuid[]) ORDER BY id",
      [orderIds],
    );
  }

  it("deletes the retired per-event-type consumers at startup", async () => {
    expect(await consumerNames(runtime)).toEqual([NOTIFICATION_CONSUMER]);
  });

  it("applies the events of several orders together, queuing what overtook order.created after it", async () => {
    const [a, b, c] = [uuidv7(), uuidv7(), uuidv7()];
    let early = "";
    await asOneDelivery(runtime, service, NOTIFICATION_CONSUMER, async () => {
      early = await publishEvent(runtime.bus, OrderConfirmedSchema, { orderId: a });
      for (const orderId of [a, b, c]) await publishEvent(runtime.bus, OrderCreatedSchema, created(orderId));
      await publishEvent(runtime.bus, OrderShippedSchema, { orderId: b, carrier: "DHL" });
    });
    const rows = await logRows([a, b, c]);
    expect(rows.map((r) => [r.order_id, r.template, r.channel])).toEqual([
      [a, "order_created", "EMAIL"],
      [a, "order_created", "SMS"],
      [a, "order_confirmed", "EMAIL"],
      [a, "order_confirmed", "SMS"],
      [b, "order_created", "EMAIL"],
      [b, "order_created", "SMS"],
      [c, "order_created", "EMAIL"],
      [c, "order_created", "SMS"],
      [b, "order_shipped", "EMAIL"],
      [b, "order_shipped", "SMS"],
    ]);
    // Fewer transactions than events: applied together (a pull's messages may arrive in two reads).
    expect(new Set(rows.map((r) => r.tx)).size).toBeLessThan(5);
    expect(rows.find((r) => r.event_id === early && r.channel === "EMAIL")?.subject).toBe(`Your order #${a.slice(-8).toUpperCase()} is confirmed`);
    expect(await query("SELECT 1 FROM pending_notifications WHERE order_id = ANY(?::uuid[])", [[a, b, c]])).toEqual([]);
  });

  it("queues the messages that waited for order.created in the order their events arrived, not by event id", async () => {
    const a = uuidv7();
    // Event ids that sort against the order of arrival.
    const [confirmed, invoice, shipped, delivered] = [uuidv7(), uuidv7(), uuidv7(), uuidv7()].reverse();
    await asOneDelivery(runtime, service, NOTIFICATION_CONSUMER, async () => {
      await publishEvent(runtime.bus, OrderConfirmedSchema, { orderId: a }, confirmed);
      await publishEvent(runtime.bus, FileInvoiceGeneratedSchema, { orderId: a, fileId: "f-1" }, invoice);
      await publishEvent(runtime.bus, OrderShippedSchema, { orderId: a, carrier: "DHL" }, shipped);
      await publishEvent(runtime.bus, OrderDeliveredSchema, { orderId: a }, delivered);
    });
    // Saved together (a pull's messages may arrive in two reads): some of them share created_at.
    const waiting = await query<{ tx: string }>("SELECT xmin::text AS tx FROM pending_notifications WHERE order_id = ?", [a]);
    expect(waiting).toHaveLength(4);
    expect(new Set(waiting.map((r) => r.tx)).size).toBeLessThan(4);

    await publishEvent(runtime.bus, OrderCreatedSchema, created(a));
    await drained();
    expect((await logRows([a])).map((r) => [r.template, r.channel])).toEqual(
      ["order_created", "order_confirmed", "invoice_ready", "order_shipped", "order_delivered"].flatMap((template) => [
        [template, "EMAIL"],
        [template, "SMS"],
      ]),
    );
  });

  it("dead-letters a poisoned event alone while the rest of its batch applies", async () => {
    const [a, b] = [uuidv7(), uuidv7()];
    let poisoned = "";
    await asOneDelivery(runtime, service, NOTIFICATION_CONSUMER, async () => {
      await publishEvent(runtime.bus, OrderCreatedSchema, created(a));
      poisoned = await publishEvent(runtime.bus, OrderCancelledSchema, { orderId: "not-an-order-id" });
      await publishEvent(runtime.bus, OrderCreatedSchema, created(b));
    });
    // The fall-back applies the good events one at a time, in whatever order they come back.
    const byOrder = (rows: string[][]) => rows.sort((x, y) => x.join().localeCompare(y.join()));
    expect(byOrder((await logRows([a, b])).map((r) => [r.order_id, r.template, r.channel]))).toEqual(
      byOrder([
        [a, "order_created", "EMAIL"],
        [a, "order_created", "SMS"],
        [b, "order_created", "EMAIL"],
        [b, "order_created", "SMS"],
      ]),
    );
    const { entries } = await listDeadLetters(runtime.bus.jsm, runtime.bus.names, { limit: 500 });
    expect(entries.filter((e) => e.consumer === NOTIFICATION_CONSUMER).map((e) => e.eventId)).toEqual([poisoned]);
  });

  it("applies nothing twice when part of a batch is delivered again", async () => {
    const [a, b] = [uuidv7(), uuidv7()];
    const ids: Record<string, string> = {};
    await asOneDelivery(runtime, service, NOTIFICATION_CONSUMER, async () => {
      ids.created = await publishEvent(runtime.bus, OrderCreatedSchema, created(a));
      ids.confirmed = await publishEvent(runtime.bus, OrderConfirmedSchema, { orderId: a });
      // No contact for b yet: its message waits.
      ids.waiting = await publishEvent(runtime.bus, OrderCancelledSchema, { orderId: b, reason: "too slow" });
    });
    await asOneDelivery(runtime, service, NOTIFICATION_CONSUMER, async () => {
      // The same events again, past the stream's de-duplication, with one new event among them.
      for (const schema of [OrderConfirmedSchema, OrderCancelledSchema] as const) {
        const key = schema === OrderConfirmedSchema ? "confirmed" : "waiting";
        const orderId = key === "confirmed" ? a : b;
        await publishEvent(runtime.bus, schema, { orderId, reason: "too slow" }, ids[key], uuidv7());
      }
      ids.shipped = await publishEvent(runtime.bus, OrderShippedSchema, { orderId: a });
      await publishEvent(runtime.bus, OrderCreatedSchema, created(a), ids.created, uuidv7());
    });
    const counts = await query<{ event_id: string; count: number }>(
      "SELECT event_id, count(*)::int AS count FROM notification_log WHERE order_id = ? GROUP BY event_id",
      [a],
    );
    expect(Object.fromEntries(counts.map((r) => [r.event_id, r.count]))).toEqual({ [ids.created]: 2, [ids.confirmed]: 2, [ids.shipped]: 2 });
    expect(await query("SELECT event_id FROM pending_notifications WHERE order_id = ?", [b])).toEqual([{ event_id: ids.waiting }]);

    // Its contact arrives: the waiting message is queued once, after order.created's.
    await publishEvent(runtime.bus, OrderCreatedSchema, created(b));
    await drained();
    expect((await logRows([b])).map((r) => [r.template, r.channel])).toEqual([
      ["order_created", "EMAIL"],
      ["order_created", "SMS"],
      ["order_cancelled", "EMAIL"],
      ["order_cancelled", "SMS"],
    ]);
    expect(await query("SELECT 1 FROM pending_notifications WHERE order_id = ?", [b])).toEqual([]);
  });
});

describe("notification-events: upgrade in place from the per-event-type consumers", () => {
  let runtime: TestRuntime;
  let config: Awaited<ReturnType<TestRuntime["config"]>>;
  let service: RunningService | undefined;

  beforeAll(async () => {
    runtime = await createTestRuntime();
    config = await runtime.config("notification");
  });

  afterAll(async () => {
    await service?.stop();
    await runtime?.cleanup();
  });

  /** Creates one of the old consumers as the old version did: its own event type, from the start. */
  async function oldConsumer(name: string, schema: DescMessage): Promise<void> {
    expect(RETIRED_CONSUMERS).toContain(name);
    await runtime.bus.jsm.consumers.add(runtime.bus.names.stream, {
      durable_name: name,
      ack_policy: AckPolicy.Explicit,
      filter_subject: eventSubject(runtime.bus.names, schema),
    });
  }

  /** The old version at work: pulls `count` messages of `consumer` and settles each as `settle` says; returns their sequences. */
  async function oldVersion(consumer: string, count: number, settle: (msg: JsMsg) => void): Promise<number[]> {
    const pull = await runtime.bus.js.consumers.get(runtime.bus.names.stream, consumer);
    const taken: JsMsg[] = [];
    for await (const msg of await pull.fetch({ max_messages: count, expires: 5_000 })) {
      taken.push(msg);
      if (taken.length === count) break;
    }
    // Settled once all are in hand: an ack the server handles while the rest are still being
    // delivered could leave a lower ack floor.
    taken.forEach(settle);
    await runtime.bus.nc.flush();
    return taken.map((msg) => msg.seq);
  }

  const notificationInfo = () => runtime.bus.jsm.consumers.info(runtime.bus.names.stream, NOTIFICATION_CONSUMER);

  // The two tests are steps of one upgrade: the second restarts what the first started.
  const [a, b, c] = [uuidv7(), uuidv7(), uuidv7()];
  let startSeq = 0;

  it("starts right after the old consumers' lowest settled point: nothing before it is applied or dead-lettered again", async () => {
    await oldConsumer("notification-order-created", OrderCreatedSchema);
    await oldConsumer("notification-order-confirmed", OrderConfirmedSchema);
    await oldConsumer("notification-order-cancelled", OrderCancelledSchema);
    await publishEvent(runtime.bus, OrderCreatedSchema, created(a));
    await publishEvent(runtime.bus, OrderCancelledSchema, { orderId: "not-an-order-id" });
    await publishEvent(runtime.bus, OrderConfirmedSchema, { orderId: a });
    await publishEvent(runtime.bus, OrderCreatedSchema, created(b));
    await publishEvent(runtime.bus, OrderConfirmedSchema, { orderId: b });
    // The old version applied a's events and dead-lettered the poisoned one (terminated it) ...
    expect(await oldVersion("notification-order-cancelled", 1, (msg) => msg.term())).toEqual([2]);
    expect(await oldVersion("notification-order-confirmed", 1, (msg) => msg.ack())).toEqual([3]);
    // ... and stopped while handling b's order.created, before it reached b's order.confirmed.
    expect(await oldVersion("notification-order-created", 2, (msg) => msg.seq === 1 && msg.ack())).toEqual([1, 4]);

    service = await start({ ...config, ...SETTINGS }, { logger: runtime.logger });
    await settled(runtime);
    const info = await notificationInfo();
    startSeq = info.config.opt_start_seq ?? 0;
    expect([info.config.deliver_policy, startSeq]).toEqual([DeliverPolicy.StartSequence, 4]);
    expect(await queued(service, [a, b])).toEqual([
      [b, "order_created", "EMAIL"],
      [b, "order_created", "SMS"],
      [b, "order_confirmed", "EMAIL"],
      [b, "order_confirmed", "SMS"],
    ]);
    // a's order.confirmed was not delivered again: it would wait for a contact this database lacks.
    expect(await sql(service.orm.em.fork(), "SELECT event_id FROM pending_notifications")).toEqual([]);
    const { entries } = await listDeadLetters(runtime.bus.jsm, runtime.bus.names, { limit: 500 });
    expect(entries.filter((e) => e.consumer === NOTIFICATION_CONSUMER)).toEqual([]);
    expect(await consumerNames(runtime)).toEqual([NOTIFICATION_CONSUMER]);
  });

  it("keeps the new consumer's position when a start finds it next to old consumers (a crash before they were deleted)", async () => {
    await service?.stop();
    service = undefined;
    // An old consumer still there, settled nothing: if it counted, the whole stream would be replayed.
    await oldConsumer("notification-order-confirmed", OrderConfirmedSchema);
    await publishEvent(runtime.bus, OrderCreatedSchema, created(c));
    await publishEvent(runtime.bus, OrderConfirmedSchema, { orderId: c });

    service = await start({ ...config, ...SETTINGS }, { logger: runtime.logger });
    await settled(runtime);
    const info = await notificationInfo();
    expect([info.config.deliver_policy, info.config.opt_start_seq]).toEqual([DeliverPolicy.StartSequence, startSeq]);
    expect(await queued(service, [a, b, c])).toEqual([
      [b, "order_created", "EMAIL"],
      [b, "order_created", "SMS"],
      [b, "order_confirmed", "EMAIL"],
      [b, "order_confirmed", "SMS"],
      [c, "order_created", "EMAIL"],
      [c, "order_created", "SMS"],
      [c, "order_confirmed", "EMAIL"],
      [c, "order_confirmed", "SMS"],
    ]);
    expect(await consumerNames(runtime)).toEqual([NOTIFICATION_CONSUMER]);
  });
});

describe("notification-events: fresh install", () => {
  let runtime: TestRuntime;
  let service: RunningService | undefined;

  beforeAll(async () => {
    runtime = await createTestRuntime();
  });

  afterAll(async () => {
    await service?.stop();
    await runtime?.cleanup();
  });

  it("delivers the whole stream when neither it nor any old consumer exists", async () => {
    const a = uuidv7();
    await publishEvent(runtime.bus, OrderCreatedSchema, created(a));
    await publishEvent(runtime.bus, OrderConfirmedSchema, { orderId: a });
    service = await start({ ...(await runtime.config("notification")), ...SETTINGS }, { logger: runtime.logger });
    await settled(runtime);
    expect((await runtime.bus.jsm.consumers.info(runtime.bus.names.stream, NOTIFICATION_CONSUMER)).config.deliver_policy).toBe(DeliverPolicy.All);
    expect(await queued(service, [a])).toEqual([
      [a, "order_created", "EMAIL"],
      [a, "order_created", "SMS"],
      [a, "order_confirmed", "EMAIL"],
      [a, "order_confirmed", "SMS"],
    ]);
  });
});
