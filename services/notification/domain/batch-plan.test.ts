import { describe, expect, it } from "@jest/globals";
import { money } from "../../../lib/money.js";
import { type Contact, contactsIn, type PendingMessage, type PlanEvent, planBatch } from "./batch-plan.js";
import { renderTemplate } from "./templates.js";

const A = "0190a000-0000-7000-8000-00000000000a";
const B = "0190a000-0000-7000-8000-00000000000b";

function contact(orderId: string, details: Partial<Contact> = {}): Contact {
  return {
    orderId,
    customerId: `customer-${orderId.slice(-1)}`,
    name: "Jane",
    email: "jane@example.com",
    phone: "+49301234567",
    total: money("EUR", 1999n),
    ...details,
  };
}

let nextId = 0;
// Events arrive in the order the tests create them.
let nextSeq = 0;
function created(orderId: string, details: Partial<Contact> = {}): PlanEvent {
  const c = contact(orderId, details);
  return {
    eventId: `created-${++nextId}`,
    streamSequence: ++nextSeq,
    orderId,
    customerId: c.customerId,
    template: "order_created",
    vars: {},
    contact: c,
    traceParent: `trace-${nextId}`,
  };
}

function confirmed(orderId: string, eventId = `confirmed-${++nextId}`): PlanEvent {
  return {
    eventId,
    streamSequence: ++nextSeq,
    orderId,
    customerId: "",
    template: "order_confirmed",
    vars: { total: "19.99 EUR" },
    traceParent: `trace-${eventId}`,
  };
}

function cancelled(orderId: string): PlanEvent {
  const eventId = `cancelled-${++nextId}`;
  return {
    eventId,
    streamSequence: ++nextSeq,
    orderId,
    customerId: "",
    template: "order_cancelled",
    vars: { reason: "changed my mind" },
    traceParent: `trace-${eventId}`,
  };
}

/** A message an earlier batch saved to wait for its order's contact. */
function waited(eventId: string, streamSequence: number | null, template = "order_confirmed", vars = {}): PendingMessage {
  return { eventId, streamSequence, orderId: A, customerId: "c", template, vars };
}

const none = new Map<string, Contact>();

/** [eventId, channel] of each planned message, in order. */
function keys(events: readonly PlanEvent[], known: ReadonlyMap<string, Contact> = none, taken: PendingMessage[] = []): string[][] {
  return planBatch(events, known, taken).messages.map((m) => [m.eventId, m.channel]);
}

describe("batch plan", () => {
  it("queues one message per channel of the order's contact, rendered as the template does", () => {
    const event = confirmed(A);
    const [email, sms, ...rest] = planBatch([event], new Map([[A, contact(A)]]), []).messages;
    expect(rest).toEqual([]);
    const data = { order_id: A, name: "Jane", total: "19.99 EUR" };
    expect(email).toEqual({
      ...renderTemplate("order_confirmed", "EMAIL", data),
      eventId: event.eventId,
      orderId: A,
      customerId: "customer-a",
      channel: "EMAIL",
      recipient: "jane@example.com",
      template: "order_confirmed",
      traceParent: event.traceParent,
    });
    expect(sms).toMatchObject({ ...renderTemplate("order_confirmed", "SMS", data), channel: "SMS", recipient: "+49301234567" });
  });

  it("leaves out a channel the contact has no address for, and the total when there is none", () => {
    const event = created(A, { phone: "", total: null });
    const plan = planBatch([event], none, []);
    expect(plan.messages.map((m) => m.channel)).toEqual(["EMAIL"]);
    expect(plan.messages[0].body).not.toContain("Total:");
  });

  it("brings the first contact of each order in the batch", () => {
    const first = created(A);
    const second = created(A, { name: "Other" });
    const other = created(B);
    expect(contactsIn([first, confirmed(A), second, other, confirmed(B)])).toEqual([first.contact, other.contact]);
  });

  it("keeps the stored contact over a later order.created", () => {
    const event = created(A, { email: "new@example.com", phone: "" });
    const plan = planBatch([event], new Map([[A, contact(A)]]), []);
    expect(plan.messages.map((m) => m.recipient)).toEqual(["jane@example.com", "+49301234567"]);
  });

  it("keeps an event as pending while its order has no contact", () => {
    const event = cancelled(A);
    expect(planBatch([event], none, [])).toEqual({
      messages: [],
      pending: [
        {
          eventId: event.eventId,
          streamSequence: event.streamSequence,
          orderId: A,
          customerId: "",
          template: "order_cancelled",
          vars: { reason: "changed my mind" },
        },
      ],
      dropped: [],
    });
  });

  it("queues events that came before order.created in the same batch after its own message", () => {
    const early = confirmed(A);
    const order = created(A);
    const late = cancelled(A);
    const plan = planBatch([early, order, late], none, []);
    expect(plan.messages.map((m) => [m.eventId, m.channel, m.traceParent])).toEqual([
      [order.eventId, "EMAIL", order.traceParent],
      [order.eventId, "SMS", order.traceParent],
      [early.eventId, "EMAIL", order.traceParent],
      [early.eventId, "SMS", order.traceParent],
      [late.eventId, "EMAIL", late.traceParent],
      [late.eventId, "SMS", late.traceParent],
    ]);
    expect(plan.pending).toEqual([]);
  });

  it("queues messages that waited from an earlier batch, oldest first, and drops one with an unknown template", () => {
    const order = created(A, { phone: "" });
    const taken = [waited("p1", 1), waited("p2", 2, "retired_template"), waited("p3", 3, "order_shipped", { carrier: "DHL" })];
    const plan = planBatch([order], none, taken);
    expect(plan.messages.map((m) => [m.eventId, m.template])).toEqual([
      [order.eventId, "order_created"],
      ["p1", "order_confirmed"],
      ["p3", "order_shipped"],
    ]);
    expect(plan.messages[2].body).toContain("with DHL");
    expect(plan.dropped.map((m) => m.eventId)).toEqual(["p2"]);
    expect(plan.pending).toEqual([]);
  });

  it("queues waiting messages in the order their events arrived: rows saved without a sequence first, a late redelivery in its place", () => {
    const order = { ...created(A, { phone: "" }), streamSequence: 13 };
    // seq 11 was redelivered after seq 12 had been saved: it waits in this batch.
    const redelivered = { ...confirmed(A, "s11"), streamSequence: 11 };
    const taken = [waited("legacy", null), waited("s10", 10), waited("s12", 12, "order_shipped")];
    expect(keys([redelivered, order], none, taken)).toEqual([
      [order.eventId, "EMAIL"],
      ["legacy", "EMAIL"],
      ["s10", "EMAIL"],
      ["s11", "EMAIL"],
      ["s12", "EMAIL"],
    ]);
  });

  it("plans several orders in one batch independently", () => {
    const a = created(A, { phone: "" });
    const b = confirmed(B);
    const aLater = confirmed(A);
    const plan = planBatch([a, b, aLater], none, []);
    expect(plan.messages.map((m) => [m.orderId, m.eventId])).toEqual([
      [A, a.eventId],
      [A, aLater.eventId],
    ]);
    expect(plan.pending.map((m) => m.eventId)).toEqual([b.eventId]);
  });

  it("queues an event that appears twice once, and keeps a waiting event that appears twice once", () => {
    const event = confirmed(A, "same");
    expect(keys([event, event], new Map([[A, contact(A)]]))).toEqual([
      ["same", "EMAIL"],
      ["same", "SMS"],
    ]);
    const taken = [waited("same", event.streamSequence)];
    const order = created(A);
    expect(keys([event, order], none, taken)).toEqual([
      [order.eventId, "EMAIL"],
      [order.eventId, "SMS"],
      ["same", "EMAIL"],
      ["same", "SMS"],
    ]);
    expect(planBatch([confirmed(B, "twice"), confirmed(B, "twice")], none, []).pending.map((m) => m.eventId)).toEqual(["twice"]);
  });
});
