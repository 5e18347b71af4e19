import { describe, expect, it } from "@jest/globals";
import { create, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { DeliveryStatus } from "../../gen/shop/delivery/v1/delivery_pb.js";
import { DeliveryStatusChangedSchema } from "../../gen/shop/events/v1/delivery_events_pb.js";
import { InventoryLowStockSchema } from "../../gen/shop/events/v1/inventory_events_pb.js";
import { OrderCancelledSchema, OrderConfirmedSchema, OrderCreatedSchema } from "../../gen/shop/events/v1/order_events_pb.js";
import { PaymentCompletedSchema, PaymentRefundedSchema } from "../../gen/shop/events/v1/payment_events_pb.js";
import { isPermanent } from "../../lib/events/index.js";
import { uuidv7 } from "../../lib/ids.js";
import { analyticsConsumers, toAnalyticsEvent } from "./consumers.js";
import { Metric } from "./domain/cohort.js";
import { Stage } from "./domain/order-progress.js";
import { EVENT_TYPES } from "./event-types.js";
import { factsOf } from "./facts.js";

const at = new Date("2026-01-01T10:00:30Z");
const minute = new Date("2026-01-01T10:00:00Z");

function event<Desc extends DescMessage>(schema: Desc, message: MessageInitShape<Desc>) {
  return toAnalyticsEvent(schema, create(schema, message), uuidv7());
}

describe("event facts", () => {
  const orderId = uuidv7();
  const productId = uuidv7();

  it("reads the common fields: ids lower-cased, service from the aggregate, occurred_at or receipt time", () => {
    const e = event(OrderCreatedSchema, { orderId: orderId.toUpperCase(), customerId: "c1", occurredAt: timestampFromDate(at) });
    expect(e).toMatchObject({ orderId, type: "shop.events.v1.OrderCreated", name: "order.created", service: "order", occurredAt: at, customerId: "c1" });
    const received = new Date("2026-02-02T00:00:00Z");
    expect(toAnalyticsEvent(PaymentCompletedSchema, create(PaymentCompletedSchema, {}), uuidv7(), received)).toMatchObject({
      orderId: null,
      service: "payment",
      occurredAt: received,
    });
    let thrown: unknown;
    try {
      event(OrderCreatedSchema, { orderId: "order-1" });
    } catch (error) {
      thrown = error;
    }
    expect(isPermanent(thrown)).toBe(true);
  });

  it("keeps addresses, contact details, tokens and customers' free text out of summaries", () => {
    const created = factsOf(
      event(OrderCreatedSchema, {
        orderId,
        occurredAt: timestampFromDate(at),
        lines: [{ productId, quantity: 3, unitPrice: { currencyCode: "EUR", amountMinor: 1999n }, productName: "Mug" }],
        total: { currencyCode: "EUR", amountMinor: 5997n },
        shippingAddress: { line1: "Hauptstr. 1", city: "Berlin", countryCode: "DE", recipientName: "Jane Doe", phone: "+4930123" },
        paymentMethod: { token: "tok_secret" },
        customerEmail: "jane@example.com",
        customerName: "Jane Doe",
      }),
    );
    expect(created.summary).toBe("order placed: 3 units of 1 product, total 59.97 EUR");
    const cancelled = factsOf(event(OrderCancelledSchema, { orderId, reason: "my neighbour Jane Doe", previousStatus: "RESERVED" }));
    expect(cancelled.summary).toBe("order cancelled while RESERVED");
    // Counters hold bigints, which JSON cannot: written as their digits.
    expect(JSON.stringify([created, cancelled], (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v))).not.toMatch(
      /Hauptstr|Jane|tok_secret|jane@|\+4930|neighbour/,
    );
  });

  it("turns events into order progress, counters and product facts", () => {
    const confirmed = factsOf(
      event(OrderConfirmedSchema, {
        orderId,
        occurredAt: timestampFromDate(at),
        lines: [{ productId, quantity: 2, unitPrice: { currencyCode: "USD", amountMinor: 250n }, productName: "Pen" }],
        total: { currencyCode: "USD", amountMinor: 500n },
      }),
    );
    expect(confirmed.progress).toEqual({
      orderId,
      createdAt: undefined,
      confirmedAt: at,
      status: { name: "CONFIRMED", at },
      stages: Stage.RESERVED | Stage.PAID,
    });
    expect(confirmed.sales).toEqual([{ minute, productId, currency: "USD", units: 2, revenueMinor: 500n }]);
    expect(confirmed.products).toEqual([{ productId, at, name: "Pen" }]);
    expect(confirmed.counters).toEqual([{ minute, metric: Metric.EVENTS, dim: "order.confirmed", value: 1n }]);

    const low = factsOf(event(InventoryLowStockSchema, { occurredAt: timestampFromDate(at), productId, available: 2, threshold: 5 }));
    expect(low.progress).toBeUndefined();
    expect(low.counters).toContainEqual({ minute, metric: Metric.LOW_STOCK, dim: productId, value: 1n });
    expect(low.products).toEqual([{ productId, at, lowStock: { available: 2, threshold: 5 } }]);

    const failed = factsOf(
      event(DeliveryStatusChangedSchema, {
        orderId,
        occurredAt: timestampFromDate(at),
        fromStatus: DeliveryStatus.IN_TRANSIT,
        toStatus: DeliveryStatus.FAILED,
        notes: "dog bit the driver",
      }),
    );
    expect(failed.progress?.status).toEqual({ name: "DELIVERY_FAILED", at });
    expect(failed.counters).toContainEqual({ minute, metric: "failure:delivery_failed", dim: "", value: 1n });
    expect(failed.summary).toBe("delivery IN_TRANSIT -> FAILED");
  });

  it("writes money as lib/money does, with the currency's own minor digits, and counts it exactly", () => {
    const captured = factsOf(
      event(PaymentCompletedSchema, { orderId, occurredAt: timestampFromDate(at), amount: { currencyCode: "JPY", amountMinor: 123456n } }),
    );
    expect(captured.summary).toBe("payment captured: 123,456 JPY");
    const large = 2n ** 60n + 1n;
    const refunded = factsOf(event(PaymentRefundedSchema, { orderId, occurredAt: timestampFromDate(at), amount: { currencyCode: "KWD", amountMinor: large } }));
    expect(refunded.summary).toBe("payment refunded: 1,152,921,504,606,846.977 KWD");
    expect(refunded.counters).toContainEqual({ minute, metric: Metric.REFUNDED, dim: "KWD", value: large });
    expect(factsOf(event(PaymentRefundedSchema, { orderId, occurredAt: timestampFromDate(at) })).summary).toBe("payment refunded: nothing");
  });
});

describe("consumers", () => {
  it("cover every event type of shop.events.v1 and no payload part, in one batch consumer", () => {
    const names = EVENT_TYPES.map((t) => t.name);
    expect(names).toEqual(
      expect.arrayContaining(["OrderCreated", "InventoryLowStock", "PaymentRefunded", "NotificationFailed", "FileInvoiceGenerated", "DeliveryStatusChanged"]),
    );
    expect(names.filter((n) => n.startsWith("Event"))).toEqual([]);
    expect(names).toContain("OrderDeliveryFailed");
    expect(names).toContain("InventoryProductChanged");
    expect(names).toHaveLength(22);
    expect(analyticsConsumers().map((c) => c.consumer)).toEqual(["analytics-events"]);
  });
});
