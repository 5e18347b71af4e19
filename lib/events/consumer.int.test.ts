import { create, type DescMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { context, SpanKind, trace } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import {
  OrderCancelledSchema,
  OrderConfirmedSchema,
  OrderCreatedSchema,
  OrderDeliveredSchema,
  OrderExpiredSchema,
  OrderPaymentFailedSchema,
  OrderRejectedSchema,
  OrderShippedSchema,
} from "../../gen/shop/events/v1/order_events_pb.js";
import { InventoryInsufficientSchema, InventoryReleasedSchema, InventoryReservedSchema } from "../../gen/shop/events/v1/inventory_events_pb.js";
import { PaymentCompletedSchema, PaymentFailedSchema } from "../../gen/shop/events/v1/payment_events_pb.js";
import { testInfra, waitFor } from "../../test/harness/index.js";
import { uuidv7 } from "../ids.js";
import { CORRELATION_HEADER, getCorrelationId, setupTelemetry, type Telemetry } from "../telemetry/index.js";
import { connectBus } from "./bus.js";
import { type EventContext, startConsumer } from "./consumer.js";
import { PermanentError } from "./errors.js";
import {
  DLQ_CONSUMER_HEADER,
  DLQ_DELIVERY_COUNT_HEADER,
  DLQ_ERROR_HEADER,
  DLQ_ORIGINAL_SUBJECT_HEADER,
  EVENT_ID_HEADER,
  EVENT_TYPE_HEADER,
} from "./headers.js";
import { enqueue } from "./outbox.js";
import type { Relay } from "./relay.js";
import { eventSubject } from "./subjects.js";
import { consumerSettled, createTestbed, readStream, recordEffect, type Testbed } from "./test-support.js";

// Short retry delays keep the suite fast; production defaults are 1 s, 2 s, 4 s.
const FAST = [50, 100, 150];

let tb: Testbed;
let telemetry: Telemetry;
let relay: Relay;

beforeAll(async () => {
  telemetry = setupTelemetry({ serviceName: "events-test", inMemory: true });
  tb = await createTestbed();
  relay = tb.relay();
});

afterAll(async () => {
  await tb?.close();
  await telemetry?.shutdown();
});

/** Enqueues one event in its own transaction and wakes the relay; returns its id. */
async function emit<Desc extends DescMessage>(schema: Desc, message: MessageInitShape<Desc>, aggregateId: string): Promise<string> {
  const id = await tb.orm.em.fork().transactional((em) => enqueue(em, schema, message, { aggregateId }));
  relay.kick();
  return id;
}

async function deadLetters(schema: DescMessage) {
  const subject = `${tb.names.dlqSubjectRoot}.${eventSubject(tb.names, schema).slice(tb.names.subjectRoot.length + 1)}`;
  return readStream(tb.bus, tb.names.dlqStream, subject);
}

async function streamMessages(schema: DescMessage): Promise<number> {
  return (await readStream(tb.bus, tb.names.stream, eventSubject(tb.names, schema))).length;
}

describe("consumer", () => {
  it("retries a failing handler and applies the event once when it finally succeeds", async () => {
    const consumer = "test-flaky";
    const deliveries: number[] = [];
    await tb.consumer({
      consumer,
      event: OrderConfirmedSchema,
      backoffMs: FAST,
      handler: async (_event, ctx) => {
        deliveries.push(ctx.deliveryCount);
        // Written before the failure: must be rolled back with it.
        await recordEffect(ctx, consumer, `attempt ${ctx.deliveryCount}`);
        if (ctx.deliveryCount < 3) throw new Error(`transient failure ${ctx.deliveryCount}`);
      },
    });
    const orderId = uuidv7();
    const eventId = await emit(OrderConfirmedSchema, { orderId }, orderId);
    await waitFor(() => consumerSettled(tb.bus, consumer, 1), { message: "the event to be acked" });
    expect(deliveries).toEqual([1, 2, 3]);
    expect(await tb.effects(consumer)).toEqual([{ event_id: eventId, note: "attempt 3" }]);
    expect(await deadLetters(OrderConfirmedSchema)).toHaveLength(0);
  });

  it("moves an event to the DLQ after 4 failed deliveries, with error, consumer and delivery count", async () => {
    const consumer = "test-always-fails";
    const deliveries: number[] = [];
    await tb.consumer({
      consumer,
      event: OrderRejectedSchema,
      backoffMs: FAST,
      handler: async (_event, ctx) => {
        deliveries.push(ctx.deliveryCount);
        await recordEffect(ctx, consumer);
        throw new Error(`inventory unreachable (attempt ${ctx.deliveryCount})`);
      },
    });
    const orderId = uuidv7();
    const eventId = await emit(OrderRejectedSchema, { orderId, reason: "out of stock" }, orderId);
    const [dead] = await waitFor(
      async () => {
        const found = await deadLetters(OrderRejectedSchema);
        return found.length > 0 && found;
      },
      { message: "the dead letter" },
    );
    await waitFor(() => consumerSettled(tb.bus, consumer, 1), { message: "the original to be terminated" });
    expect(deliveries).toEqual([1, 2, 3, 4]);
    expect(await tb.effects(consumer)).toEqual([]);
    expect(dead.header.get(DLQ_ERROR_HEADER)).toBe("inventory unreachable (attempt 4)");
    expect(dead.header.get(DLQ_CONSUMER_HEADER)).toBe(consumer);
    expect(dead.header.get(DLQ_DELIVERY_COUNT_HEADER)).toBe("4");
    expect(dead.header.get(DLQ_ORIGINAL_SUBJECT_HEADER)).toBe(eventSubject(tb.names, OrderRejectedSchema));
    expect(dead.header.get(EVENT_ID_HEADER)).toBe(eventId);
    expect(dead.header.get(EVENT_TYPE_HEADER)).toBe(OrderRejectedSchema.typeName);
    expect(dead.header.get(CORRELATION_HEADER)).toBe(orderId);
    expect(dead.subject).toBe(`${tb.names.dlqSubjectRoot}.order.rejected`);
    const [original] = await readStream(tb.bus, tb.names.stream, eventSubject(tb.names, OrderRejectedSchema));
    expect(Buffer.from(dead.data).equals(Buffer.from(original.data))).toBe(true);
  });

  it("holds an event through a database outage longer than its retries, spending none of its attempts", async () => {
    const consumer = "test-database-outage";
    const deliveries: number[] = [];
    let outage = true;
    let failedCalls = 0;
    await tb.consumer({
      consumer,
      event: InventoryInsufficientSchema,
      maxDeliver: 2,
      // Ack waits long enough that progress reports keep the held event through a loaded machine.
      backoffMs: [500, 1_000],
      handler: async (_event, ctx) => {
        deliveries.push(ctx.deliveryCount);
        if (outage) {
          failedCalls++;
          // What pg says while PostgreSQL replays its WAL after a crash.
          throw Object.assign(new Error("the database system is not yet accepting connections"), { code: "57P03" });
        }
        await recordEffect(ctx, consumer);
      },
    });
    const orderId = uuidv7();
    const eventId = await emit(InventoryInsufficientSchema, { orderId }, orderId);
    // Far more failures than maxDeliver (2) would allow, and longer than the backoff schedule.
    await waitFor(() => failedCalls >= 4, { timeoutMs: 20_000, message: "the outage to outlast the retries" });
    outage = false;
    await waitFor(() => consumerSettled(tb.bus, consumer, 1), { timeoutMs: 20_000, message: "the event to be acked" });
    expect(await tb.effects(consumer)).toEqual([{ event_id: eventId, note: null }]);
    expect(await deadLetters(InventoryInsufficientSchema)).toHaveLength(0);
    // Held in hand, not redelivered: every attempt was the first delivery.
    expect(new Set(deliveries)).toEqual(new Set([1]));
  });

  it("keeps an event handled for longer than its ack wait with progress reports, and sends none for events handled promptly", async () => {
    const consumer = "test-progress";
    // Acks and progress reports go to the message's reply subject, which this connection can watch.
    const replies: string[] = [];
    const watch = tb.bus.nc.subscribe(`$JS.ACK.${tb.names.stream}.${consumer}.>`, { callback: (_error, msg) => void replies.push(msg.string()) });
    await tb.bus.nc.flush();
    const reports = () => replies.filter((reply) => reply === "+WPI").length;
    const deliveries: number[] = [];
    let slowOrder = "";
    await tb.consumer({
      consumer,
      event: InventoryReleasedSchema,
      // A 1.6 s ack wait: a handler still busy after it is redelivered unless it reports
      // progress; reports start after 400 ms, which a prompt handler never reaches.
      backoffMs: [1_600, 3_200],
      handler: async (event, ctx) => {
        if (event.orderId === slowOrder) {
          deliveries.push(ctx.deliveryCount);
          // Busy for longer than the ack wait: the fifth report comes 2 s or more after delivery.
          await waitFor(() => reports() >= 5, { timeoutMs: 10_000, message: "progress reports for the slow event" });
        }
        await recordEffect(ctx, consumer);
      },
    });
    try {
      const prompt = [uuidv7(), uuidv7(), uuidv7()];
      for (const orderId of prompt) await emit(InventoryReleasedSchema, { orderId }, orderId);
      await waitFor(async () => (await tb.effects(consumer)).length === prompt.length, { message: "the prompt events applied" });
      await waitFor(() => replies.length === prompt.length, { message: "their acks" });
      expect(replies).toEqual(["+ACK", "+ACK", "+ACK"]);

      slowOrder = uuidv7();
      const slowId = await emit(InventoryReleasedSchema, { orderId: slowOrder }, slowOrder);
      await waitFor(async () => (await tb.effects(consumer)).some((effect) => effect.event_id === slowId), { message: "the slow event applied" });
      await waitFor(() => consumerSettled(tb.bus, consumer, 0), { message: "the slow event acked" });
      expect(deliveries).toEqual([1]);
      expect(replies.slice(prompt.length).filter((reply) => reply !== "+WPI")).toEqual(["+ACK"]);
    } finally {
      watch.unsubscribe();
    }
  });

  it("sends a PermanentError to the DLQ on the first delivery", async () => {
    const consumer = "test-permanent";
    const deliveries: number[] = [];
    await tb.consumer({
      consumer,
      event: OrderExpiredSchema,
      backoffMs: FAST,
      handler: async (_event, ctx) => {
        deliveries.push(ctx.deliveryCount);
        throw new PermanentError("order does not exist in this service");
      },
    });
    const orderId = uuidv7();
    await emit(OrderExpiredSchema, { orderId }, orderId);
    const [dead] = await waitFor(
      async () => {
        const found = await deadLetters(OrderExpiredSchema);
        return found.length > 0 && found;
      },
      { message: "the dead letter" },
    );
    await waitFor(() => consumerSettled(tb.bus, consumer, 1), { message: "the original to be terminated" });
    expect(deliveries).toEqual([1]);
    expect(dead.header.get(DLQ_DELIVERY_COUNT_HEADER)).toBe("1");
    expect(dead.header.get(DLQ_ERROR_HEADER)).toBe("order does not exist in this service");
  });

  it("sends an undecodable message to the DLQ without calling the handler", async () => {
    const consumer = "test-undecodable";
    let calls = 0;
    await tb.consumer({
      consumer,
      event: PaymentFailedSchema,
      backoffMs: FAST,
      handler: async () => {
        calls++;
      },
    });
    const h = natsHeaders();
    const eventId = uuidv7();
    h.set(EVENT_ID_HEADER, eventId);
    h.set(EVENT_TYPE_HEADER, PaymentFailedSchema.typeName);
    await tb.bus.js.publish(eventSubject(tb.names, PaymentFailedSchema), new Uint8Array([0xff, 0xff, 0xff, 0xff]), {
      msgID: eventId,
      headers: h,
    });
    const [dead] = await waitFor(
      async () => {
        const found = await deadLetters(PaymentFailedSchema);
        return found.length > 0 && found;
      },
      { message: "the dead letter" },
    );
    await waitFor(() => consumerSettled(tb.bus, consumer, 1), { message: "the original to be terminated" });
    expect(calls).toBe(0);
    expect(dead.header.get(DLQ_ERROR_HEADER)).toMatch(/^cannot decode shop.events.v1.PaymentFailed/);
    expect(dead.header.get(DLQ_DELIVERY_COUNT_HEADER)).toBe("1");
  });

  it("moves an event to the DLQ when the worker handling its last delivery dies", async () => {
    const consumer = "test-worker-dies";
    const options = { consumer, event: OrderDeliveredSchema, maxDeliver: 2, backoffMs: FAST };
    // The doomed worker has its own connection, so "dying" is closing it: no ack, no progress.
    const doomed = await connectBus({ natsUrl: testInfra().natsUrl, names: tb.names, name: "doomed-worker" });
    const deliveries: number[] = [];
    let hanging!: () => void;
    const hangs = new Promise<void>((resolve) => (hanging = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const first = await startConsumer({
      ...options,
      orm: tb.orm,
      js: doomed.js,
      jsm: doomed.jsm,
      names: tb.names,
      logger: tb.logger,
      handler: async (_event, ctx) => {
        deliveries.push(ctx.deliveryCount);
        if (ctx.deliveryCount === 1) throw new Error("transient");
        hanging();
        await released;
        throw new Error("the process is gone");
      },
    });
    try {
      const orderId = uuidv7();
      await emit(OrderDeliveredSchema, { orderId }, orderId);
      await hangs;
      await doomed.nc.close();
      // A surviving replica gets the extra delivery and dead-letters it without running the handler.
      await tb.consumer({
        ...options,
        handler: async (_event, ctx) => {
          deliveries.push(ctx.deliveryCount);
        },
      });
      const [dead] = await waitFor(
        async () => {
          const found = await deadLetters(OrderDeliveredSchema);
          return found.length > 0 && found;
        },
        { message: "the dead letter" },
      );
      await waitFor(() => consumerSettled(tb.bus, consumer, 1), { message: "the original to be terminated" });
      expect(deliveries).toEqual([1, 2]);
      expect(dead.header.get(DLQ_ERROR_HEADER)).toMatch(/^no outcome after 2 deliveries/);
      expect(dead.header.get(DLQ_DELIVERY_COUNT_HEADER)).toBe("2");
    } finally {
      release();
      await first.stop();
    }
  });

  it("creates a durable consumer at its startSequence, and never moves one that exists", async () => {
    const consumer = "test-start-sequence";
    const schema = OrderPaymentFailedSchema;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await emit(schema, { orderId: uuidv7() }, uuidv7()));
    const published = await waitFor(
      async () => {
        const found = await readStream(tb.bus, tb.names.stream, eventSubject(tb.names, schema));
        return found.length === 3 && found;
      },
      { message: "three events on the stream" },
    );
    const options = { consumer, event: schema, handler: (_event: unknown, ctx: EventContext) => recordEffect(ctx, consumer) };
    const asked: string[] = [];
    const first = await tb.consumer({
      ...options,
      startSequence: async ({ stream }) => {
        asked.push(stream);
        return published[1].seq;
      },
    });
    await waitFor(async () => (await tb.effects(consumer)).length === 2, { message: "the events from the start sequence" });
    await first.stop();
    expect(asked).toEqual([tb.names.stream]);

    // A restart (or a replica) asks nothing and continues where the consumer is.
    ids.push(await emit(schema, { orderId: uuidv7() }, uuidv7()));
    await tb.consumer({
      ...options,
      startSequence: async () => {
        asked.push("again");
        return 1;
      },
    });
    await waitFor(async () => (await tb.effects(consumer)).length === 3, { message: "the event published while it was stopped" });
    await waitFor(() => consumerSettled(tb.bus, consumer, published[2].seq + 1), { message: "the consumer to settle" });
    expect(asked).toEqual([tb.names.stream]);
    expect((await tb.effects(consumer)).map((e) => e.event_id)).toEqual(ids.slice(1));
    expect((await tb.bus.jsm.consumers.info(tb.names.stream, consumer)).config.opt_start_seq).toBe(published[1].seq);
  });

  it("applies an event delivered twice (same event id, different Nats-Msg-Id) once", async () => {
    const consumer = "test-duplicate";
    let calls = 0;
    await tb.consumer({
      consumer,
      event: OrderCancelledSchema,
      handler: async (_event, ctx) => {
        calls++;
        await recordEffect(ctx, consumer);
      },
    });
    const eventId = uuidv7();
    const payload = toBinary(OrderCancelledSchema, create(OrderCancelledSchema, { orderId: uuidv7() }));
    for (const msgID of [eventId, `${eventId}:again`]) {
      const h = natsHeaders();
      h.set(EVENT_ID_HEADER, eventId);
      h.set(EVENT_TYPE_HEADER, OrderCancelledSchema.typeName);
      await tb.bus.js.publish(eventSubject(tb.names, OrderCancelledSchema), payload, { msgID, headers: h });
    }
    expect(await streamMessages(OrderCancelledSchema)).toBe(2);
    await waitFor(() => consumerSettled(tb.bus, consumer, 2), { message: "both copies to be acked" });
    expect(calls).toBe(1);
    expect(await tb.effects(consumer)).toEqual([{ event_id: eventId, note: null }]);
  });

  it("runs the handler in a consumer span of the trace that enqueued the event, with its correlation id", async () => {
    const consumer = "test-tracing";
    const orderId = uuidv7();
    const seen: { correlation?: string; header?: string; published?: string } = {};
    await tb.consumer({
      consumer,
      event: PaymentCompletedSchema,
      handler: async (event, ctx) => {
        seen.correlation = getCorrelationId();
        seen.header = ctx.headers[CORRELATION_HEADER];
        // An event published by the handler continues the same trace.
        seen.published = await ctx.publish(OrderConfirmedSchema, { orderId: event.orderId }, { aggregateId: event.orderId });
      },
    });
    const request = trace.getTracer("test").startSpan("CreatePayment");
    const eventId = await context.with(trace.setSpan(context.active(), request), () => emit(PaymentCompletedSchema, { orderId, paymentId: uuidv7() }, orderId));
    request.end();

    const spans = (): ReadableSpan[] => telemetry.memory?.getFinishedSpans() ?? [];
    const byKind = (kind: SpanKind, id: string) => spans().find((span) => span.kind === kind && span.attributes["messaging.message.id"] === id);
    const processSpan = await waitFor(() => byKind(SpanKind.CONSUMER, eventId), { message: "the consumer span" });
    // The send span ends when the PubAck is back, which may be after the consumer's span ended.
    const sendSpan = await waitFor(() => byKind(SpanKind.PRODUCER, eventId), { message: "the send span" });
    const traceId = request.spanContext().traceId;
    expect(processSpan.spanContext().traceId).toBe(traceId);
    expect(processSpan.parentSpanContext?.traceId).toBe(traceId);
    expect(processSpan.parentSpanContext?.spanId).toBe(sendSpan?.spanContext().spanId);
    expect(sendSpan?.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(seen.correlation).toBe(orderId);
    expect(seen.header).toBe(orderId);

    const { rows } = await tb.orm.em.getKnex().raw("select headers from outbox where id = ?", [seen.published ?? ""]);
    expect(rows[0].headers.traceparent).toContain(traceId);
    expect(rows[0].headers[CORRELATION_HEADER]).toBe(orderId);
  });

  it("handles batches in parallel with concurrency > 1", async () => {
    const consumer = "test-parallel";
    const orders = [uuidv7(), uuidv7(), uuidv7()];
    let inFlight = 0;
    let peak = 0;
    let allIn!: () => void;
    const together = new Promise<void>((resolve) => (allIn = resolve));
    await tb.consumer({
      consumer,
      event: OrderShippedSchema,
      concurrency: 3,
      // One event per batch, so the three can only meet in three workers.
      batchSize: 1,
      handler: async (_event, ctx) => {
        peak = Math.max(peak, ++inFlight);
        if (inFlight === 3) allIn();
        // Each handler waits until all three run at once, which one worker could never reach.
        await Promise.race([together, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
        await recordEffect(ctx, consumer);
        inFlight--;
      },
    });
    for (const orderId of orders) await emit(OrderShippedSchema, { orderId }, orderId);
    await waitFor(async () => (await tb.effects(consumer)).length === 3, { message: "three effects" });
    expect(peak).toBe(3);
  });

  it("keeps consuming after a pause that caught a message on its way in, and stops", async () => {
    const consumer = "test-pause-race";
    // A switch whose listeners never hear of the pause: the pull it should end is still open
    // when the next message arrives, as when a pause lands while a message is on its way.
    let paused = false;
    const running = await tb.consumer({
      consumer,
      event: InventoryReservedSchema,
      pause: { paused: () => paused, onPause: () => () => undefined },
      handler: (_event, ctx) => recordEffect(ctx, consumer),
    });
    // Wait until the pull is open, so that the next message reaches this very pull.
    await waitFor(async () => (await tb.bus.jsm.consumers.info(tb.names.stream, consumer)).num_waiting > 0, { message: "the consumer to pull" });
    paused = true;
    const first = await emit(InventoryReservedSchema, { orderId: uuidv7() }, uuidv7());
    await waitFor(async () => (await tb.effects(consumer)).length === 1, { message: "the message that arrived with the pause" });
    paused = false;
    const second = await emit(InventoryReservedSchema, { orderId: uuidv7() }, uuidv7());
    await waitFor(async () => (await tb.effects(consumer)).length === 2, { message: "a message after the pause" });
    expect((await tb.effects(consumer)).map((e) => e.event_id)).toEqual([first, second]);
    await running.stop();
  });

  it("stops gracefully: the in-flight handler finishes and is acked before stop() resolves", async () => {
    const consumer = "test-stop";
    let entered!: () => void;
    const inHandler = new Promise<void>((resolve) => (entered = resolve));
    let finish!: () => void;
    const finishing = new Promise<void>((resolve) => (finish = resolve));
    const running = await tb.consumer({
      consumer,
      event: OrderCreatedSchema,
      handler: async (_event, ctx) => {
        entered();
        await finishing;
        await recordEffect(ctx, consumer);
      },
    });
    await emit(OrderCreatedSchema, { orderId: uuidv7() }, uuidv7());
    await inHandler;
    let stopped = false;
    const stopping = running.stop().then(() => (stopped = true));
    await Promise.resolve();
    expect(stopped).toBe(false);
    finish();
    await stopping;
    expect(await tb.effects(consumer)).toHaveLength(1);
    await waitFor(() => consumerSettled(tb.bus, consumer, 1), { message: "the ack to reach the server" });
  });
});
