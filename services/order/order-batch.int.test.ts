import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { DeliveryStatus } from "../../gen/shop/delivery/v1/delivery_pb.js";
import { DeliveryStatusChangedSchema } from "../../gen/shop/events/v1/delivery_events_pb.js";
import { OrderConfirmedSchema, OrderDeliveredSchema, OrderPaymentFailedSchema, OrderShippedSchema } from "../../gen/shop/events/v1/order_events_pb.js";
import { PaymentCompletedSchema, PaymentFailedSchema } from "../../gen/shop/events/v1/payment_events_pb.js";
import { OrderStatus } from "../../gen/shop/order/v1/order_pb.js";
import { runTransaction, sql } from "../../lib/db/index.js";
import { EVENT_ID_HEADER } from "../../lib/events/index.js";
import { readStream } from "../../lib/events/test-support.js";
import { uuidv7 } from "../../lib/ids.js";
import { publishEvent } from "../../test/harness/event-log.js";
import { asOneDelivery } from "../../test/harness/one-delivery.js";
import { type OrderTestbed, startOrderTestbed } from "../../test/harness/order-testbed.js";
import { lockBatch } from "./order-batch.js";
import { applyEvent } from "./orders.js";

describe("order consumers applying batches", () => {
  let t: OrderTestbed;

  beforeAll(async () => {
    t = await startOrderTestbed();
  });

  afterAll(async () => {
    await t?.close();
  });

  /** `n` orders of one customer that reached RESERVED. */
  async function reservedOrders(n: number): Promise<{ customerId: string; orderIds: string[] }> {
    const customerId = await t.customer();
    const product = await t.product(100);
    const orderIds: string[] = [];
    for (let i = 0; i < n; i++) orderIds.push((await t.place(customerId, [[product.id, i + 1]])).id);
    for (const orderId of orderIds) await t.waitForStatus(orderId, OrderStatus.RESERVED);
    return { customerId, orderIds };
  }

  const paymentCompleted = (customerId: string, orderId: string, eventId?: string, msgId?: string) =>
    publishEvent(t.runtime.bus, PaymentCompletedSchema, { orderId, customerId, paymentId: `pay-${orderId}`, cardLast4: "4242" }, eventId, msgId);

  /** `n` CONFIRMED orders. */
  async function confirmedOrders(n: number): Promise<{ customerId: string; orderIds: string[] }> {
    const reserved = await reservedOrders(n);
    for (const orderId of reserved.orderIds) await paymentCompleted(reserved.customerId, orderId);
    for (const orderId of reserved.orderIds) await t.waitForStatus(orderId, OrderStatus.CONFIRMED);
    return reserved;
  }

  async function historyOf(orderId: string): Promise<{ from_status: string | null; to_status: string; event_id: string | null }[]> {
    return t.sql("SELECT from_status, to_status, event_id FROM order_status_history WHERE order_id = ? ORDER BY id", [orderId]);
  }

  /** The transaction that last wrote each order (its xmin). */
  async function writers(orderIds: string[]): Promise<Set<string>> {
    const rows = await sql<{ xmin: string }>(t.order.orm.em.fork(), "SELECT xmin::text AS xmin FROM orders WHERE id = ANY(?::uuid[])", [orderIds]);
    return new Set(rows.map((row) => row.xmin));
  }

  it("confirms a batch of orders together: each with its history row, payment and order.confirmed", async () => {
    const { customerId, orderIds } = await reservedOrders(3);
    const eventIds: string[] = [];
    await asOneDelivery(t.runtime, t.order, "order-payment-completed", async () => {
      for (const orderId of orderIds) eventIds.push(await paymentCompleted(customerId, orderId));
      return eventIds;
    });
    // Fewer transactions than orders: applied together (a pull's messages may arrive in two reads).
    expect((await writers(orderIds)).size).toBeLessThan(orderIds.length);
    for (const [i, orderId] of orderIds.entries()) {
      const { order } = await t.orders.getOrder({ orderId });
      expect(order).toMatchObject({ status: OrderStatus.CONFIRMED, cardLast4: "4242" });
      expect((await historyOf(orderId)).at(-1)).toEqual({ from_status: "RESERVED", to_status: "CONFIRMED", event_id: eventIds[i] });
      const [row] = await t.sql<{ payment_id: string; version: number }>("SELECT payment_id, version FROM orders WHERE id = ?", [orderId]);
      expect(row).toEqual({ payment_id: `pay-${orderId}`, version: 3 });
      // The lock statement read the lines and the customer that order.confirmed carries.
      const confirmed = await t.log.expectEvent(OrderConfirmedSchema, orderId);
      expect(confirmed).toMatchObject({ paymentId: `pay-${orderId}`, cardLast4: "4242", customerName: "Ada Lovelace" });
      expect(confirmed.customerEmail).toMatch(/@example\.com$/);
      expect(confirmed.lines.map((line) => line.quantity)).toEqual([i + 1]);
    }
  });

  it("dead-letters a poisoned event of a batch alone while the others apply", async () => {
    const { customerId, orderIds } = await confirmedOrders(4);
    const [poisonedOrder, ...good] = orderIds;
    const deliveryId = uuidv7();
    let poisoned = "";
    const shipped: string[] = [];
    await asOneDelivery(t.runtime, t.order, "order-delivery-status", async () => {
      for (const orderId of good) {
        shipped.push(await publishEvent(t.runtime.bus, DeliveryStatusChangedSchema, { orderId, customerId, deliveryId, toStatus: DeliveryStatus.IN_TRANSIT }));
      }
      // A valid order id (locked with the others) but no status to move to: a PermanentError in its handler.
      poisoned = await publishEvent(t.runtime.bus, DeliveryStatusChangedSchema, {
        orderId: poisonedOrder,
        customerId,
        deliveryId,
        toStatus: DeliveryStatus.UNSPECIFIED,
      });
      return [...shipped, poisoned];
    });
    for (const [i, orderId] of good.entries()) {
      expect((await t.orders.getOrder({ orderId })).order?.status).toBe(OrderStatus.SHIPPED);
      expect((await historyOf(orderId)).at(-1)).toEqual({ from_status: "CONFIRMED", to_status: "SHIPPED", event_id: shipped[i] });
      expect(await t.log.events(OrderShippedSchema, orderId)).toHaveLength(1);
    }
    expect((await t.orders.getOrder({ orderId: poisonedOrder })).order?.status).toBe(OrderStatus.CONFIRMED);
    const dead = await readStream(t.runtime.bus, t.runtime.bus.names.dlqStream, `${t.runtime.bus.names.dlqSubjectRoot}.>`);
    expect(dead.filter((m) => m.header.get(EVENT_ID_HEADER) === poisoned)).toHaveLength(1);
    expect(dead.filter((m) => shipped.includes(m.header.get(EVENT_ID_HEADER)))).toHaveLength(0);
    expect(await t.sql("SELECT 1 FROM processed_events WHERE event_id = ?", [poisoned])).toHaveLength(0);
  });

  it("stores a payment.failed whose reason holds a NUL with the rest of its batch, nothing dead-lettered", async () => {
    const { customerId, orderIds } = await reservedOrders(3);
    const reasons = ["card_declined", "declined: do not honour\u0000\u0000 (issuer)", "insufficient_funds \ud83d"];
    const eventIds = await asOneDelivery(t.runtime, t.order, "order-payment-failed", async () => {
      const ids: string[] = [];
      for (const [i, orderId] of orderIds.entries()) {
        ids.push(await publishEvent(t.runtime.bus, PaymentFailedSchema, { orderId, customerId, paymentId: uuidv7(), reason: reasons[i] }));
      }
      return ids;
    });
    // Each NUL became U+FFFD (the lone surrogate already did on the wire: protobuf encodes UTF-8).
    const stored = ["card_declined", "declined: do not honour\ufffd\ufffd (issuer)", "insufficient_funds \ufffd"];
    for (const [i, orderId] of orderIds.entries()) {
      const { order } = await t.orders.getOrder({ orderId });
      expect(order).toMatchObject({ status: OrderStatus.PAYMENT_FAILED, failureReason: stored[i] });
      expect((await historyOf(orderId)).at(-1)).toEqual({ from_status: "RESERVED", to_status: "PAYMENT_FAILED", event_id: eventIds[i] });
      expect((await t.log.expectEvent(OrderPaymentFailedSchema, orderId)).reason).toBe(stored[i]);
    }
    // Applied in batches, not one by one after a failed batch (a pull may arrive as two reads).
    expect((await writers(orderIds)).size).toBeLessThan(orderIds.length);
    const dead = await readStream(t.runtime.bus, t.runtime.bus.names.dlqStream, `${t.runtime.bus.names.dlqSubjectRoot}.>`);
    expect(dead.filter((m) => eventIds.includes(m.header.get(EVENT_ID_HEADER)))).toHaveLength(0);
  });

  it("applies nothing twice when part of a batch is delivered again", async () => {
    const { customerId, orderIds } = await reservedOrders(2);
    const [earlier, later] = orderIds;
    const first = await paymentCompleted(customerId, earlier);
    await t.waitForStatus(earlier, OrderStatus.CONFIRMED);
    let second = "";
    // The applied event again (a new message with the same event id), the new one twice.
    await asOneDelivery(t.runtime, t.order, "order-payment-completed", async () => {
      await paymentCompleted(customerId, earlier, first, uuidv7());
      second = await paymentCompleted(customerId, later);
      await paymentCompleted(customerId, later, second, uuidv7());
      return [first, second, second];
    });
    for (const [orderId, eventId] of [
      [earlier, first],
      [later, second],
    ]) {
      expect(await historyOf(orderId)).toEqual([
        { from_status: null, to_status: "PENDING", event_id: null },
        { from_status: "PENDING", to_status: "RESERVED", event_id: expect.any(String) },
        { from_status: "RESERVED", to_status: "CONFIRMED", event_id: eventId },
      ]);
      const [row] = await t.sql<{ version: number }>("SELECT version FROM orders WHERE id = ?", [orderId]);
      expect(row.version).toBe(3);
      expect(await t.log.events(OrderConfirmedSchema, orderId)).toHaveLength(1);
    }
  });

  it("folds two changes of one order in one transaction into one update, with both history rows and events in order", async () => {
    const [both, one] = (await confirmedOrders(2)).orderIds;
    const deliveryId = uuidv7();
    const delivery = { deliveryId, carrier: "UPS", trackingNumber: "1Z1" };
    const [inTransit, delivered, otherInTransit] = [uuidv7(), uuidv7(), uuidv7()];
    await runTransaction(t.order.orm, async (em) => {
      await lockBatch(em, [one, both, both, "not-a-uuid"]);
      applyEvent(em, both, { type: "delivery.status_changed", to: "IN_TRANSIT" }, { eventId: inTransit, details: { delivery } });
      applyEvent(em, one, { type: "delivery.status_changed", to: "IN_TRANSIT" }, { eventId: otherInTransit, details: { delivery } });
      // Decided from where the first change left the order, not from what was read.
      const effect = applyEvent(em, both, { type: "delivery.status_changed", to: "DELIVERED" }, { eventId: delivered, details: { delivery } });
      expect(effect).toMatchObject({ kind: "transition", before: "SHIPPED" });
      // Nothing is written before the commit.
      const [seen] = await t.sql<{ status: string }>("SELECT status FROM orders WHERE id = ?", [both]);
      expect(seen.status).toBe("CONFIRMED");
    });
    expect(await writers([both, one])).toHaveProperty("size", 1);
    expect((await historyOf(both)).slice(-2)).toEqual([
      { from_status: "CONFIRMED", to_status: "SHIPPED", event_id: inTransit },
      { from_status: "SHIPPED", to_status: "DELIVERED", event_id: delivered },
    ]);
    const [row] = await t.sql<{ status: string; version: number }>("SELECT status, version FROM orders WHERE id = ?", [both]);
    expect(row).toEqual({ status: "DELIVERED", version: 5 });
    expect(await t.log.expectEvent(OrderDeliveredSchema, both)).toMatchObject({ deliveryId });
    expect(await t.log.events(OrderShippedSchema, both)).toHaveLength(1);
    expect((await t.orders.getOrder({ orderId: one })).order?.status).toBe(OrderStatus.SHIPPED);
  });

  it("rolls the whole batch back when its write fails at commit", async () => {
    const { orderIds } = await confirmedOrders(1);
    const [orderId] = orderIds;
    await expect(
      runTransaction(t.order.orm, async (em) => {
        await lockBatch(em, [orderId]);
        applyEvent(em, orderId, { type: "delivery.status_changed", to: "IN_TRANSIT" }, { eventId: uuidv7() });
        // A write behind the batch's back (a bug): the guarded update finds the order moved.
        const trx = em.getTransactionContext<{ raw(sql: string, bindings: unknown[]): Promise<unknown> }>()!;
        await trx.raw("UPDATE orders SET status = 'DELIVERED' WHERE id = ?", [orderId]);
      }),
    ).rejects.toThrow(/changed under their row lock/);
    const [row] = await t.sql<{ status: string; version: number }>("SELECT status, version FROM orders WHERE id = ?", [orderId]);
    expect(row).toEqual({ status: "CONFIRMED", version: 3 });
    expect(await historyOf(orderId)).toHaveLength(3);
  });
});
