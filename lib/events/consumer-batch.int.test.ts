import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { type OrderShipped, OrderShippedSchema } from "../../gen/shop/events/v1/order_events_pb.js";
import { testInfra, waitFor } from "../../test/harness/index.js";
import { uuidv7 } from "../ids.js";
import { connectBus } from "./bus.js";
import { type BatchEvent, startBatchConsumer, startConsumer } from "./consumer.js";
import { PermanentError } from "./errors.js";
import { DLQ_ERROR_HEADER, EVENT_ID_HEADER, EVENT_TYPE_HEADER } from "./headers.js";
import { transactionOf } from "./sql.js";
import { eventSubject } from "./subjects.js";
import { consumerSettled, createTestbed, readStream, type Testbed } from "./test-support.js";

// Each test uses its own subject filter through its own event type would need more types than
// the contracts have, so each test publishes to one subject and filters by order ids it made.
const FAST = [50, 100, 150];

let tb: Testbed;

beforeAll(async () => {
  tb = await createTestbed();
  await tb.orm.em.getKnex().raw("create table batch_effects (consumer text not null, event_id uuid not null, txid bigint not null)");
});

afterAll(async () => {
  await tb?.close();
});

/** Publishes order.shipped for `orderId` with event id `eventId` (and a Nats-Msg-Id of its own). */
async function publish(orderId: string, eventId = uuidv7(), msgID = eventId, carrier = ""): Promise<string> {
  const h = natsHeaders();
  h.set(EVENT_ID_HEADER, eventId);
  h.set(EVENT_TYPE_HEADER, OrderShippedSchema.typeName);
  const payload = toBinary(OrderShippedSchema, create(OrderShippedSchema, { orderId, carrier }));
  await tb.bus.js.publish(eventSubject(tb.names, OrderShippedSchema), payload, { msgID, headers: h });
  return eventId;
}

async function streamLength(): Promise<number> {
  return (await readStream(tb.bus, tb.names.stream, eventSubject(tb.names, OrderShippedSchema))).length;
}

async function effects(consumer: string): Promise<{ event_id: string; txid: string }[]> {
  const { rows } = await tb.orm.em
    .getKnex()
    .raw<{ rows: { event_id: string; txid: string }[] }>("select event_id, txid from batch_effects where consumer = ?", [consumer]);
  return rows;
}

/** Every event of the stream so far, applied by a fresh durable consumer that starts after they were published. */
describe("consumer batches", () => {
  it("applies a burst in shared transactions, and a poisoned event goes to the DLQ alone while the others apply", async () => {
    const consumer = "batch-poison";
    const orders = Array.from({ length: 8 }, () => uuidv7());
    const poisoned = orders[3];
    const before = await streamLength();
    for (const orderId of orders) await publish(orderId);
    const mine = new Set(orders);
    await tb.consumer({
      consumer,
      event: OrderShippedSchema,
      backoffMs: FAST,
      handler: async (event, ctx) => {
        if (!mine.has(event.orderId)) return; // earlier tests' events on the same subject
        if (event.orderId === poisoned) throw new PermanentError("poisoned order");
        await transactionOf(ctx.em, "test").raw("insert into batch_effects (consumer, event_id, txid) values (?, ?, txid_current())", [consumer, ctx.eventId]);
      },
    });
    await waitFor(() => consumerSettled(tb.bus, consumer, before + orders.length), { message: "every event settled" });
    const applied = await effects(consumer);
    expect(applied).toHaveLength(orders.length - 1);
    expect(new Set(applied.map((row) => row.event_id)).size).toBe(orders.length - 1);
    const dead = await readStream(tb.bus, tb.names.dlqStream, `${tb.names.dlqSubjectRoot}.>`);
    expect(dead.filter((m) => m.header.get(DLQ_ERROR_HEADER) === "poisoned order")).toHaveLength(1);
  });

  it("applies several events in one transaction when they arrive together", async () => {
    const consumer = "batch-shared";
    const orders = Array.from({ length: 10 }, () => uuidv7());
    const before = await streamLength();
    for (const orderId of orders) await publish(orderId);
    const mine = new Set(orders);
    await tb.consumer({
      consumer,
      event: OrderShippedSchema,
      handler: async (event, ctx) => {
        if (!mine.has(event.orderId)) return;
        await transactionOf(ctx.em, "test").raw("insert into batch_effects (consumer, event_id, txid) values (?, ?, txid_current())", [consumer, ctx.eventId]);
      },
    });
    await waitFor(() => consumerSettled(tb.bus, consumer, before + orders.length), { message: "every event settled" });
    const applied = await effects(consumer);
    expect(applied).toHaveLength(orders.length);
    // Published before the consumer existed, they arrive in one pull: fewer commits than events.
    expect(new Set(applied.map((row) => row.txid)).size).toBeLessThan(orders.length);
  });

  it("runs beforeBatch first in each batch's transaction, with only the batch's new events", async () => {
    const consumer = "batch-before";
    const orders = Array.from({ length: 6 }, () => uuidv7());
    const eventIds = orders.map(() => uuidv7());
    // One event was applied before: beforeBatch must not see it.
    await tb.orm.em.getKnex().raw("insert into processed_events (consumer, event_id) values (?, ?)", [consumer, eventIds[0]]);
    const before = await streamLength();
    for (let i = 0; i < orders.length; i++) await publish(orders[i], eventIds[i]);
    const mine = new Set(orders);
    const steps: { step: string; orderId: string; txid: string }[] = [];
    const txid = async (em: Parameters<typeof transactionOf>[0]) =>
      String((await transactionOf(em, "test").raw<{ rows: { txid: string }[] }>("select txid_current() as txid")).rows[0].txid);
    await tb.consumer({
      consumer,
      event: OrderShippedSchema,
      beforeBatch: async (events, em) => {
        const id = await txid(em);
        for (const event of events) if (mine.has(event.orderId)) steps.push({ step: "before", orderId: event.orderId, txid: id });
      },
      handler: async (event, ctx) => {
        if (mine.has(event.orderId)) steps.push({ step: "handle", orderId: event.orderId, txid: await txid(ctx.em) });
      },
    });
    await waitFor(() => consumerSettled(tb.bus, consumer, before + orders.length), { message: "every event settled" });
    const handled = steps.filter((s) => s.step === "handle");
    expect(handled.map((s) => s.orderId).sort()).toEqual(orders.slice(1).sort());
    expect(steps.some((s) => s.orderId === orders[0])).toBe(false);
    for (const h of handled) {
      // Its batch's beforeBatch ran earlier, in the same transaction, and named it.
      const first = steps.findIndex((s) => s.step === "before" && s.orderId === h.orderId && s.txid === h.txid);
      expect(first).toBeGreaterThanOrEqual(0);
      expect(first).toBeLessThan(steps.indexOf(h));
    }
  });

  it("applies only the new events of a partly redelivered batch, and a repeat inside the batch once", async () => {
    const consumer = "batch-redelivered";
    const orders = Array.from({ length: 6 }, () => uuidv7());
    const eventIds = orders.map(() => uuidv7());
    // The first three were applied before a crash lost their acks.
    await tb.orm.em.getKnex().raw("insert into processed_events (consumer, event_id) select ?, unnest(?::uuid[])", [consumer, eventIds.slice(0, 3)]);
    const before = await streamLength();
    for (let i = 0; i < orders.length; i++) await publish(orders[i], eventIds[i]);
    // The same event again under another Nats-Msg-Id, so the stream keeps both copies.
    await publish(orders[5], eventIds[5], `${eventIds[5]}:again`);
    const mine = new Set(orders);
    const calls: string[] = [];
    await tb.consumer({
      consumer,
      event: OrderShippedSchema,
      handler: async (event, ctx) => {
        if (!mine.has(event.orderId)) return;
        calls.push(ctx.eventId);
        await transactionOf(ctx.em, "test").raw("insert into batch_effects (consumer, event_id, txid) values (?, ?, txid_current())", [consumer, ctx.eventId]);
      },
    });
    await waitFor(() => consumerSettled(tb.bus, consumer, before + orders.length + 1), { message: "every copy acknowledged" });
    expect(calls.sort()).toEqual(eventIds.slice(3).sort());
    expect((await effects(consumer)).map((row) => row.event_id).sort()).toEqual(eventIds.slice(3).sort());
  });

  it("applies every event of a batch exactly once when the worker dies in the middle of it", async () => {
    const consumer = "batch-crash";
    const orders = Array.from({ length: 6 }, () => uuidv7());
    const before = await streamLength();
    for (const orderId of orders) await publish(orderId);
    const mine = new Set(orders);
    const options = { consumer, event: OrderShippedSchema, backoffMs: FAST, names: tb.names, logger: tb.logger, orm: tb.orm };
    // The doomed worker has its own connection, so dying is closing it: no ack, no progress.
    const doomed = await connectBus({ natsUrl: testInfra().natsUrl, names: tb.names, name: "doomed-batch-worker" });
    let hanging!: () => void;
    const hangs = new Promise<void>((resolve) => (hanging = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let seen = 0;
    const first = await startConsumer({
      ...options,
      js: doomed.js,
      jsm: doomed.jsm,
      handler: async (event, ctx) => {
        if (!mine.has(event.orderId)) return;
        await transactionOf(ctx.em, "test").raw("insert into batch_effects (consumer, event_id, txid) values (?, ?, txid_current())", [consumer, ctx.eventId]);
        if (++seen === 3) {
          hanging();
          await released;
          throw new Error("the process is gone");
        }
      },
    });
    try {
      await hangs;
      await doomed.nc.close();
      release(); // its transaction rolls back, as a dead process's would
      await tb.consumer({
        ...options,
        handler: async (event, ctx) => {
          if (!mine.has(event.orderId)) return;
          await transactionOf(ctx.em, "test").raw("insert into batch_effects (consumer, event_id, txid) values (?, ?, txid_current())", [
            consumer,
            ctx.eventId,
          ]);
        },
      });
      await waitFor(async () => (await effects(consumer)).length >= orders.length && consumerSettled(tb.bus, consumer, before + orders.length), {
        message: "the survivor to apply the batch",
      });
      const applied = await effects(consumer);
      expect(applied).toHaveLength(orders.length);
      expect(new Set(applied.map((row) => row.event_id)).size).toBe(orders.length);
    } finally {
      release();
      await first.stop();
    }
  });

  it("hands no handler a NUL: the text is stored as U+FFFD with the rest of the batch, nothing dead-lettered", async () => {
    const orders = Array.from({ length: 4 }, () => uuidv7());
    const carriers = ["UPS", "DHL\u0000Express", "\u0000", "Poste 😀"];
    const stored = ["UPS", "DHL\ufffdExpress", "\ufffd", "Poste 😀"];
    const before = await streamLength();
    const eventIds: string[] = [];
    for (const [i, orderId] of orders.entries()) eventIds.push(await publish(orderId, uuidv7(), undefined, carriers[i]));
    const mine = new Set(orders);
    const insert = "insert into effects (consumer, event_id, note) select ?, unnest(?::uuid[]), unnest(?::text[])";
    // One consumer of each kind, both writing the text where PostgreSQL refuses a NUL.
    await tb.consumer({
      consumer: "text-single",
      event: OrderShippedSchema,
      backoffMs: FAST,
      handler: async (event, ctx) => {
        if (mine.has(event.orderId)) await transactionOf(ctx.em, "test").raw(insert, ["text-single", [ctx.eventId], [event.carrier]]);
      },
    });
    const batch = await startBatchConsumer({
      orm: tb.orm,
      js: tb.bus.js,
      jsm: tb.bus.jsm,
      names: tb.names,
      logger: tb.logger,
      consumer: "text-batch",
      events: [OrderShippedSchema],
      backoffMs: FAST,
      handler: async (events: BatchEvent[], em) => {
        const shipped = events.map((e) => ({ eventId: e.eventId, event: e.message as OrderShipped }));
        const ours = shipped.filter((e) => mine.has(e.event.orderId));
        await transactionOf(em, "test").raw(insert, ["text-batch", ours.map((e) => e.eventId), ours.map((e) => e.event.carrier)]);
      },
    });
    try {
      for (const consumer of ["text-single", "text-batch"]) {
        await waitFor(() => consumerSettled(tb.bus, consumer, before + orders.length), { message: `${consumer} settled` });
        const notes = new Map((await tb.effects(consumer)).map((row) => [row.event_id, row.note]));
        expect(eventIds.map((id) => notes.get(id))).toEqual(stored);
      }
      const dead = await readStream(tb.bus, tb.names.dlqStream, `${tb.names.dlqSubjectRoot}.>`);
      expect(dead.filter((m) => eventIds.includes(m.header.get(EVENT_ID_HEADER)))).toHaveLength(0);
    } finally {
      await batch.stop();
    }
  });
  it("with lingerMs, holds a batch for the events that follow its first, and stopping cuts the wait short", async () => {
    const consumer = "batch-linger";
    const lingerMs = 30_000;
    const orders = Array.from({ length: 6 }, () => uuidv7());
    const mine = new Set(orders);
    const lastSeq = async () => (await tb.bus.jsm.streams.info(tb.names.stream)).state.last_seq;
    const delivered = async (seq: number) => (await tb.bus.jsm.consumers.info(tb.names.stream, consumer)).delivered.stream_seq >= seq;
    const start = (await lastSeq()) + 1;
    const running = await tb.consumer({
      consumer,
      event: OrderShippedSchema,
      batchSize: 5,
      lingerMs,
      // Only what this test publishes: earlier tests' events would make batches of their own.
      startSequence: () => Promise.resolve(start),
      handler: async (event, ctx) => {
        if (!mine.has(event.orderId)) return;
        await transactionOf(ctx.em, "test").raw("insert into batch_effects (consumer, event_id, txid) values (?, ?, txid_current())", [consumer, ctx.eventId]);
      },
    });
    // The first event is in the consumer's hands before the others are even published: without
    // the linger it would be applied on its own.
    await publish(orders[0]);
    const first = await lastSeq();
    await waitFor(() => delivered(first), { message: "the first event delivered" });
    for (const orderId of orders.slice(1, 5)) await publish(orderId);
    await waitFor(async () => (await effects(consumer)).length === 5, { message: "the full batch applied" });
    expect(new Set((await effects(consumer)).map((row) => row.txid)).size).toBe(1);

    // A lone event lingers; stopping applies and acknowledges it at once instead of after lingerMs.
    await publish(orders[5]);
    const last = await lastSeq();
    await waitFor(() => delivered(last), { message: "the lone event delivered" });
    const stopping = Date.now();
    await running.stop();
    expect(Date.now() - stopping).toBeLessThan(lingerMs);
    expect(await effects(consumer)).toHaveLength(6);
    expect(await consumerSettled(tb.bus, consumer, last)).toBe(true);
  });
});
