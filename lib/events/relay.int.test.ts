import { fromBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { OrderCreatedSchema, OrderShippedSchema } from "../../gen/shop/events/v1/order_events_pb.js";
import { waitFor } from "../../test/harness/index.js";
import { uuidv7 } from "../ids.js";
import { CORRELATION_HEADER } from "../telemetry/index.js";
import { EVENT_ID_HEADER, EVENT_TYPE_HEADER, MSG_ID_HEADER } from "./headers.js";
import { enqueue, withDeferredOutbox } from "./outbox.js";
import { kickRelays, startRelay } from "./relay.js";
import { transactionOf } from "./sql.js";
import { consumerSettled, createTestbed, readStream, recordEffect, type Testbed } from "./test-support.js";

let tb: Testbed;

beforeAll(async () => {
  tb = await createTestbed();
});

afterAll(async () => {
  await tb?.close();
});

async function outboxRow(id: string): Promise<{ published_at: Date | null; attempts: number; headers: Record<string, string> }> {
  const { rows } = await tb.orm.em.getKnex().raw("select published_at, attempts, headers from outbox where id = ?", [id]);
  return rows[0];
}

/** Deletes rows a test wrote but no relay should publish (the relay tests count what reaches the stream). */
async function removeFromOutbox(ids: string[]): Promise<void> {
  await tb.orm.em.getKnex().raw("delete from outbox where id = any(?::uuid[])", [ids]);
}

async function unpublished(): Promise<number> {
  const { rows } = await tb.orm.em.getKnex().raw("select count(*)::int as n from outbox where published_at is null");
  return rows[0].n;
}

async function streamCount(): Promise<number> {
  return (await tb.bus.jsm.streams.info(tb.names.stream)).state.messages;
}

describe("outbox", () => {
  it("refuses to write outside a transaction", async () => {
    await expect(enqueue(tb.orm.em.fork(), OrderCreatedSchema, { orderId: uuidv7() }, { aggregateId: "x" })).rejects.toThrow(/inside em.transactional/);
  });

  it("is written only when the caller's transaction commits", async () => {
    const orderId = uuidv7();
    let eventId = "";
    await expect(
      tb.orm.em.fork().transactional(async (em) => {
        eventId = await enqueue(em, OrderShippedSchema, { orderId }, { aggregateId: orderId });
        throw new Error("state change failed");
      }),
    ).rejects.toThrow("state change failed");
    expect(await outboxRow(eventId)).toBeUndefined();
  });

  it("defers the rows enqueued in withDeferredOutbox to one write at its end, in enqueue order", async () => {
    const orderIds = [uuidv7(), uuidv7(), uuidv7()];
    let insideWork = -1;
    let ids: string[] = [];
    await tb.orm.em.fork().transactional(async (em) => {
      ids = await withDeferredOutbox(em, async () => {
        const enqueued = [];
        for (const orderId of orderIds) enqueued.push(await enqueue(em, OrderShippedSchema, { orderId }, { aggregateId: orderId }));
        const { rows } = await transactionOf(em, "test").raw("select count(*)::int as n from outbox where id = any(?::uuid[])", [enqueued]);
        insideWork = rows[0].n;
        return enqueued;
      });
    });
    expect(insideWork).toBe(0);
    const { rows } = await tb.orm.em.getKnex().raw("select id from outbox where id = any(?::uuid[]) order by seq", [ids]);
    expect(rows.map((row: { id: string }) => row.id)).toEqual(ids);
    await removeFromOutbox(ids);
  });

  it("writes nothing deferred when the work throws, and writes a savepoint's events at once", async () => {
    const orderId = uuidv7();
    let deferredId = "";
    await expect(
      tb.orm.em.fork().transactional((em) =>
        withDeferredOutbox(em, async () => {
          deferredId = await enqueue(em, OrderShippedSchema, { orderId }, { aggregateId: orderId });
          throw new Error("handler failed");
        }),
      ),
    ).rejects.toThrow("handler failed");
    expect(deferredId).not.toBe("");
    expect(await outboxRow(deferredId)).toBeUndefined();

    let nestedId = "";
    let visibleInSavepoint = false;
    await tb.orm.em.fork().transactional((em) =>
      withDeferredOutbox(em, () =>
        em.transactional(async (savepoint) => {
          nestedId = await enqueue(savepoint, OrderShippedSchema, { orderId }, { aggregateId: orderId });
          const { rows } = await transactionOf(savepoint, "test").raw("select 1 from outbox where id = ?", [nestedId]);
          visibleInSavepoint = rows.length === 1;
        }),
      ),
    );
    expect(visibleInSavepoint).toBe(true);
    expect(await outboxRow(nestedId)).toBeDefined();
    await removeFromOutbox([nestedId]);
  });
});

describe("relay", () => {
  it("publishes an event once when it crashes between publish and mark, and the consumer applies it once", async () => {
    const consumer = "test-relay-crash";
    const orderId = uuidv7();
    let handled = 0;
    await tb.consumer({
      consumer,
      event: OrderCreatedSchema,
      handler: async (event, ctx) => {
        if (event.orderId !== orderId) return;
        handled++;
        await recordEffect(ctx, consumer);
      },
    });
    const eventId = await tb.orm.em.fork().transactional((em) => enqueue(em, OrderCreatedSchema, { orderId, customerId: "c-1" }, { aggregateId: orderId }));
    expect((await outboxRow(eventId)).headers[CORRELATION_HEADER]).toBe(orderId);

    let crashes = 0;
    const crashing = tb.relay({
      afterPublish: () => {
        crashes++;
        throw new Error("simulated crash after the PubAck, before marking the row");
      },
    });
    await waitFor(() => crashes >= 1, { message: "the crashing relay to publish" });
    await crashing.stop();
    expect((await outboxRow(eventId)).published_at).toBeNull();
    expect(await streamCount()).toBe(1);

    // The restarted relay publishes the row again; the stream drops the copy by Nats-Msg-Id.
    const restarted = tb.relay();
    await waitFor(async () => (await outboxRow(eventId)).published_at !== null, { message: "the row to be marked" });
    await restarted.stop();
    expect(await streamCount()).toBe(1);
    await waitFor(() => consumerSettled(tb.bus, consumer, 1), { message: "the consumer to ack" });
    expect(handled).toBe(1);
    expect(await tb.effects(consumer)).toHaveLength(1);

    const [message] = await readStream(tb.bus, tb.names.stream, `${tb.names.subjectRoot}.>`);
    expect(message.subject).toBe(`${tb.names.subjectRoot}.order.created`);
    expect(message.header.get(MSG_ID_HEADER)).toBe(eventId);
    expect(message.header.get(EVENT_ID_HEADER)).toBe(eventId);
    expect(message.header.get(EVENT_TYPE_HEADER)).toBe("shop.events.v1.OrderCreated");
    expect(message.header.get(CORRELATION_HEADER)).toBe(orderId);
    expect(fromBinary(OrderCreatedSchema, message.data).customerId).toBe("c-1");
  });

  it("with two relays on one outbox publishes every event exactly once and in order per aggregate", async () => {
    const aggregates = Array.from({ length: 5 }, () => uuidv7());
    const perAggregate = 40;
    const before = await streamCount();
    const enqueueRound = (i: number) =>
      tb.orm.em.fork().transactional(async (em) => {
        for (const orderId of aggregates) {
          await enqueue(em, OrderShippedSchema, { orderId, trackingNumber: String(i) }, { aggregateId: orderId });
        }
      });
    for (let i = 0; i < perAggregate / 2; i++) await enqueueRound(i);

    // Force real overlap: relay A stops inside its first batch, holding its aggregates' locks,
    // until relay B (another connection pool, as in a second replica) has published two
    // batches. Row-level locking alone would let B publish later events of A's aggregates then.
    let releaseA!: () => void;
    const bPublished = new Promise<void>((resolve) => (releaseA = resolve));
    let aWaiting = false;
    let publishedWhileAWaited = 0;
    const published = { a: 0, b: 0 };
    const relayA = tb.relay({
      batchSize: 2,
      afterPublish: async () => {
        published.a++;
        if (published.a === 1) {
          aWaiting = true;
          await Promise.race([bPublished, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
          aWaiting = false;
        }
      },
    });
    const replica = await tb.openReplica();
    const relayB = tb.relay({
      orm: replica,
      batchSize: 3,
      afterPublish: () => {
        published.b++;
        if (aWaiting && ++publishedWhileAWaited === 6) releaseA();
      },
    });
    for (let i = perAggregate / 2; i < perAggregate; i++) {
      await enqueueRound(i);
      kickRelays(tb.orm);
    }

    const total = aggregates.length * perAggregate;
    await waitFor(async () => (await streamCount()) >= before + total, { message: `${total} events on the stream`, timeoutMs: 15_000 });
    await waitFor(async () => (await unpublished()) === 0, { message: "every row marked published" });
    await Promise.all([relayA.stop(), relayB.stop()]);
    expect(await streamCount()).toBe(before + total);
    expect(publishedWhileAWaited).toBeGreaterThanOrEqual(6);
    expect(published.a).toBeGreaterThan(0);
    expect(published.b).toBeGreaterThan(0);

    const messages = (await readStream(tb.bus, tb.names.stream, `${tb.names.subjectRoot}.order.shipped`)).filter((m) =>
      aggregates.includes(fromBinary(OrderShippedSchema, m.data).orderId),
    );
    expect(messages).toHaveLength(total);
    const ids = messages.map((m) => m.header.get(EVENT_ID_HEADER));
    expect(new Set(ids).size).toBe(total);
    for (const orderId of aggregates) {
      const sequence = messages
        .map((m) => fromBinary(OrderShippedSchema, m.data))
        .filter((event) => event.orderId === orderId)
        .map((event) => Number(event.trackingNumber));
      expect(sequence).toEqual(Array.from({ length: perAggregate }, (_, i) => i));
    }
  });

  it("keeps rows and retries when publishing fails, then publishes them", async () => {
    // A relay whose publishes cannot reach any stream: the subject root is outside the stream.
    const orderId = uuidv7();
    const eventId = await tb.orm.em.fork().transactional((em) => enqueue(em, OrderShippedSchema, { orderId }, { aggregateId: orderId }));
    const broken = startRelay({
      orm: tb.orm,
      js: tb.bus.js,
      names: { ...tb.names, subjectRoot: `${tb.names.subjectRoot}x` },
      logger: tb.logger,
      idleMs: 20,
      publishTimeoutMs: 500,
    });
    await waitFor(async () => (await outboxRow(eventId)).attempts >= 1, { message: "a failed attempt" });
    await broken.stop();
    const row = await outboxRow(eventId);
    expect(row.published_at).toBeNull();

    const working = tb.relay();
    await waitFor(async () => (await outboxRow(eventId)).published_at !== null, { message: "the row to be published" });
    await working.stop();
    expect((await outboxRow(eventId)).attempts).toBeGreaterThanOrEqual(2);
  });
});
