import { createRegistry } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { file_shop_events_v1_payment_events, PaymentRefundedSchema } from "../../gen/shop/events/v1/payment_events_pb.js";
import { waitFor } from "../../test/harness/index.js";
import { uuidv7 } from "../ids.js";
import { discardDeadLetter, getDeadLetter, listDeadLetters, replayDeadLetter } from "./dead-letters.js";
import { PermanentError } from "./errors.js";
import { EVENT_ID_HEADER, MSG_ID_HEADER } from "./headers.js";
import { enqueue } from "./outbox.js";
import type { Relay } from "./relay.js";
import { eventSubject } from "./subjects.js";
import { consumerSettled, createTestbed, readStream, recordEffect, type Testbed } from "./test-support.js";

let tb: Testbed;
let relay: Relay;
/** Orders whose refund the "picky" consumer rejects, until a test fixes it. */
const rejected = new Set<string>();
const calls = { picky: 0, other: 0 };

beforeAll(async () => {
  tb = await createTestbed();
  relay = tb.relay();
  // Two consumers of the same event: one fails permanently for some orders, one never fails.
  await tb.consumer({
    consumer: "test-picky",
    event: PaymentRefundedSchema,
    handler: async (event, ctx) => {
      calls.picky++;
      if (rejected.has(event.orderId)) throw new PermanentError(`refund for ${event.orderId} rejected`);
      await recordEffect(ctx, "test-picky", event.orderId);
    },
  });
  await tb.consumer({
    consumer: "test-other",
    event: PaymentRefundedSchema,
    handler: async (event, ctx) => {
      calls.other++;
      await recordEffect(ctx, "test-other", event.orderId);
    },
  });
});

afterAll(async () => {
  await tb?.close();
});

/** Emits a refund the picky consumer rejects and waits for its dead letter; returns order and event id. */
async function deadLetterFor(): Promise<{ orderId: string; eventId: string; seq: number }> {
  const orderId = uuidv7();
  rejected.add(orderId);
  const eventId = await tb.orm.em.fork().transactional((em) => enqueue(em, PaymentRefundedSchema, { orderId, refundId: uuidv7() }, { aggregateId: orderId }));
  relay.kick();
  const entry = await waitFor(async () => (await listDeadLetters(tb.bus.jsm, tb.names, { limit: 100 })).entries.find((e) => e.eventId === eventId), {
    message: "the dead letter",
  });
  return { orderId, eventId, seq: entry.seq };
}

describe("dead letters", () => {
  it("lists and shows a dead letter, with its payload as protobuf JSON when the type is known", async () => {
    const { orderId, eventId, seq } = await deadLetterFor();
    const page = await listDeadLetters(tb.bus.jsm, tb.names);
    expect(page.entries.find((entry) => entry.seq === seq)).toEqual({
      seq,
      subject: `${tb.names.dlqSubjectRoot}.payment.refunded`,
      originalSubject: eventSubject(tb.names, PaymentRefundedSchema),
      eventId,
      eventType: PaymentRefundedSchema.typeName,
      error: `refund for ${orderId} rejected`,
      consumer: "test-picky",
      deliveryCount: 1,
      failedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });

    const registry = createRegistry(file_shop_events_v1_payment_events);
    const detail = await getDeadLetter(tb.bus.jsm, tb.names, seq, { registry });
    expect(detail?.payload.json).toMatchObject({ orderId });
    expect(detail?.headers[EVENT_ID_HEADER]).toBe(eventId);
    const raw = await getDeadLetter(tb.bus.jsm, tb.names, seq);
    expect(raw?.payload.json).toBeUndefined();
    expect(raw?.payload.base64).toBe(detail?.payload.base64);
    expect(await getDeadLetter(tb.bus.jsm, tb.names, seq + 1_000)).toBeUndefined();
  });

  it("pages through dead letters", async () => {
    await deadLetterFor();
    await deadLetterFor();
    const all = (await listDeadLetters(tb.bus.jsm, tb.names, { limit: 100 })).entries;
    expect(all.length).toBeGreaterThanOrEqual(2);
    const first = await listDeadLetters(tb.bus.jsm, tb.names, { limit: 1 });
    expect(first.entries.map((e) => e.seq)).toEqual([all[0].seq]);
    expect(first.nextSeq).toBeDefined();
    const second = await listDeadLetters(tb.bus.jsm, tb.names, { limit: all.length, startSeq: first.nextSeq });
    expect(second.entries.map((e) => e.seq)).toEqual(all.slice(1).map((e) => e.seq));
    expect(second.nextSeq).toBeUndefined();
  });

  it("replays a dead letter: the consumer that failed handles it, the one that succeeded skips it", async () => {
    const { orderId, eventId, seq } = await deadLetterFor();
    const original = (await tb.bus.jsm.streams.info(tb.names.stream)).state.messages;
    await waitFor(async () => (await consumerSettled(tb.bus, "test-other", original)) && consumerSettled(tb.bus, "test-picky", original), {
      message: "both consumers to finish the original",
    });
    const before = { ...calls };
    rejected.delete(orderId);

    const replayed = await replayDeadLetter(tb.bus.jsm, tb.names, seq);
    expect(replayed).toEqual({ subject: eventSubject(tb.names, PaymentRefundedSchema), eventId, streamSeq: expect.any(Number) });
    await waitFor(async () => (await tb.effects("test-picky")).some((e) => e.note === orderId), { message: "the replay to be handled" });
    const streamMessages = (await tb.bus.jsm.streams.info(tb.names.stream)).state.messages;
    await waitFor(() => consumerSettled(tb.bus, "test-other", streamMessages), { message: "the other consumer to ack the replay" });

    expect(calls.picky).toBe(before.picky + 1);
    // test-other received the replay too, and skipped it before calling its handler.
    expect(calls.other).toBe(before.other);
    expect((await tb.effects("test-other")).filter((e) => e.note === orderId)).toHaveLength(1);
    expect(await getDeadLetter(tb.bus.jsm, tb.names, seq)).toBeUndefined();

    const copies = (await readStream(tb.bus, tb.names.stream, eventSubject(tb.names, PaymentRefundedSchema))).filter(
      (m) => m.header.get(EVENT_ID_HEADER) === eventId,
    );
    expect(copies.map((m) => m.header.get(MSG_ID_HEADER))).toEqual([eventId, `${eventId}:replay:${seq}`]);
  });

  it("discards a dead letter", async () => {
    const { seq } = await deadLetterFor();
    expect(await discardDeadLetter(tb.bus.jsm, tb.names, seq)).toBe(true);
    expect(await getDeadLetter(tb.bus.jsm, tb.names, seq)).toBeUndefined();
    expect((await listDeadLetters(tb.bus.jsm, tb.names, { limit: 100 })).entries.map((e) => e.seq)).not.toContain(seq);
    expect(await discardDeadLetter(tb.bus.jsm, tb.names, seq)).toBe(false);
    expect(await replayDeadLetter(tb.bus.jsm, tb.names, seq)).toBeUndefined();
  });
});
