import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { create, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { AnalyticsService, type Dashboard } from "../../gen/shop/analytics/v1/analytics_pb.js";
import { DeliveryStatus } from "../../gen/shop/delivery/v1/delivery_pb.js";
import { DeliveryCreatedSchema, DeliveryStatusChangedSchema } from "../../gen/shop/events/v1/delivery_events_pb.js";
import { FileInvoiceGeneratedSchema } from "../../gen/shop/events/v1/file_events_pb.js";
import {
  InventoryInsufficientSchema,
  InventoryLowStockSchema,
  InventoryReleasedSchema,
  InventoryReservedSchema,
  ReleaseReason,
} from "../../gen/shop/events/v1/inventory_events_pb.js";
import { NotificationSentSchema } from "../../gen/shop/events/v1/notification_events_pb.js";
import {
  OrderCancelledSchema,
  OrderConfirmedSchema,
  OrderCreatedSchema,
  OrderDeliveredSchema,
  OrderPaymentFailedSchema,
  OrderRejectedSchema,
  OrderShippedSchema,
} from "../../gen/shop/events/v1/order_events_pb.js";
import { PaymentCompletedSchema, PaymentFailedSchema, PaymentRefundedSchema } from "../../gen/shop/events/v1/payment_events_pb.js";
import { OrderStatus } from "../../gen/shop/order/v1/order_pb.js";
import { Code } from "../../lib/errors.js";
import { createClient, type GrpcClient } from "../../lib/grpc/index.js";
import { uuidv7 } from "../../lib/ids.js";
import type { RunningService } from "../../lib/runtime/index.js";
import { publishEvent } from "../../test/harness/event-log.js";
import { expectCode } from "../../test/harness/expect-code.js";
import { waitFor } from "../../test/harness/index.js";
import { createTestRuntime, type TestRuntime } from "../../test/harness/runtime.js";
import { applyEvents, sqlOn } from "./analytics-store.js";
import { toAnalyticsEvent } from "./consumers.js";
import { bucketBound, bucketOf } from "./domain/latency-histogram.js";
import { start } from "./service.js";

/** One event of a scenario, as another service would publish it. */
interface Published {
  schema: DescMessage;
  message: MessageInitShape<DescMessage>;
  eventId: string;
}

const ADDRESS = { line1: "1 Main St", city: "Springfield", countryCode: "US", recipientName: "Ada" };
const usd = (amountMinor: bigint) => ({ currencyCode: "USD", amountMinor });

/**
 * Four orders placed in the minute starting at `t0`: A goes all the way to DELIVERED, B is
 * rejected for stock, C's card is declined, D is confirmed and then cancelled and refunded.
 * Product P1 runs low.
 */
function scenario(t0: Date) {
  const ms = (offset: number) => timestampFromDate(new Date(t0.getTime() + offset));
  const [a, b, c, d, customer, p1, p2] = Array.from({ length: 7 }, () => uuidv7());
  const events: Published[] = [];
  const add = <Desc extends DescMessage>(schema: Desc, message: MessageInitShape<Desc>) =>
    events.push({ schema, message: message as MessageInitShape<DescMessage>, eventId: uuidv7() });
  const line = (productId: string, quantity: number, price: bigint, productName: string) => ({ productId, quantity, unitPrice: usd(price), productName });
  const common = (orderId: string, offset: number) => ({ orderId, customerId: customer, occurredAt: ms(offset) });

  // A: 2 x P1 at 25.00, confirmed 3 s after creation, delivered.
  add(OrderCreatedSchema, {
    ...common(a, 0),
    lines: [line(p1, 2, 2500n, "Widget")],
    total: usd(5000n),
    shippingAddress: ADDRESS,
    paymentMethod: { token: "tok_visa" },
    customerEmail: "ada@example.com",
  });
  add(InventoryReservedSchema, { ...common(a, 1000), reservationId: uuidv7(), lines: [{ productId: p1, quantity: 2 }] });
  add(InventoryLowStockSchema, { ...common(a, 1000), customerId: "", productId: p1, available: 1, threshold: 2 });
  add(PaymentCompletedSchema, { ...common(a, 2000), paymentId: uuidv7(), amount: usd(5000n), cardLast4: "4242" });
  add(OrderConfirmedSchema, { ...common(a, 3000), lines: [line(p1, 2, 2500n, "Widget")], total: usd(5000n), shippingAddress: ADDRESS, paymentId: uuidv7() });
  add(FileInvoiceGeneratedSchema, { ...common(a, 4000), fileId: uuidv7(), storageKey: "invoices/a.pdf", sizeBytes: 1234n, sha256: "00" });
  add(DeliveryCreatedSchema, { ...common(a, 4000), deliveryId: uuidv7() });
  add(OrderShippedSchema, { ...common(a, 20_000), deliveryId: uuidv7(), carrier: "DHL" });
  add(OrderDeliveredSchema, { ...common(a, 40_000), deliveryId: uuidv7() });
  add(NotificationSentSchema, { ...common(a, 41_000), notificationId: uuidv7(), channel: "EMAIL" });
  // B: rejected for stock.
  add(OrderCreatedSchema, { ...common(b, 5000), lines: [line(p2, 50, 1000n, "Gadget")], total: usd(50_000n) });
  add(InventoryInsufficientSchema, {
    ...common(b, 6000),
    shortages: [{ productId: p2, requested: 50, available: 3 }],
    reason: "insufficient stock for 1 product",
  });
  add(OrderRejectedSchema, { ...common(b, 7000), reason: "insufficient stock for 1 product", shortProductIds: [p2] });
  // C: card declined.
  add(OrderCreatedSchema, { ...common(c, 8000), lines: [line(p2, 1, 1000n, "Gadget")], total: usd(1000n) });
  add(InventoryReservedSchema, { ...common(c, 9000), reservationId: uuidv7(), lines: [{ productId: p2, quantity: 1 }] });
  add(PaymentFailedSchema, { ...common(c, 10_000), paymentId: uuidv7(), reason: "card_declined" });
  add(OrderPaymentFailedSchema, { ...common(c, 11_000), reason: "card_declined" });
  add(InventoryReleasedSchema, {
    ...common(c, 12_000),
    reservationId: uuidv7(),
    reason: ReleaseReason.PAYMENT_FAILED,
    lines: [{ productId: p2, quantity: 1 }],
  });
  // D: confirmed 5 s after creation, cancelled, refunded.
  add(OrderCreatedSchema, { ...common(d, 13_000), lines: [line(p2, 1, 1000n, "Gadget")], total: usd(1000n) });
  add(InventoryReservedSchema, { ...common(d, 14_000), reservationId: uuidv7(), lines: [{ productId: p2, quantity: 1 }] });
  add(PaymentCompletedSchema, { ...common(d, 15_000), paymentId: uuidv7(), amount: usd(1000n) });
  add(OrderConfirmedSchema, { ...common(d, 18_000), lines: [line(p2, 1, 1000n, "Gadget")], total: usd(1000n), paymentId: uuidv7() });
  add(OrderCancelledSchema, { ...common(d, 30_000), reason: "my private reason", previousStatus: "CONFIRMED", wasCharged: true });
  add(PaymentRefundedSchema, { ...common(d, 31_000), paymentId: uuidv7(), refundId: uuidv7(), amount: usd(1000n), reason: "order cancelled" });
  add(DeliveryStatusChangedSchema, { ...common(d, 32_000), deliveryId: uuidv7(), fromStatus: DeliveryStatus.PENDING, toStatus: DeliveryStatus.CANCELLED });
  return { events, orders: { a, b, c, d }, products: { p1, p2 } };
}

type Scenario = ReturnType<typeof scenario>;

/** A reproducible shuffle (so a failure can be replayed), xorshift-seeded. */
function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  const next = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** What every run of a scenario must show, however its events arrived. */
function expectScenario(dashboard: Dashboard | undefined, s: Scenario) {
  expect(dashboard).toBeDefined();
  const db = dashboard!;
  expect(Number(db.events)).toBe(s.events.length);
  expect(db.funnel).toMatchObject({ created: 4n, reserved: 3n, paid: 2n, delivered: 1n });
  expect(db.ordersByStatus.map((x) => [x.status, x.orders])).toEqual([
    [OrderStatus.REJECTED, 1n],
    [OrderStatus.PAYMENT_FAILED, 1n],
    [OrderStatus.CANCELLED, 1n],
    [OrderStatus.DELIVERED, 1n],
  ]);
  expect(db.revenue.map((r) => ({ ...r, $typeName: undefined }))).toEqual([
    { $typeName: undefined, currencyCode: "USD", capturedMinor: 6000n, refundedMinor: 1000n, netMinor: 5000n, payments: 2n },
  ]);
  expect(db.failures.map((f) => [f.kind, f.reason, f.count])).toEqual([
    ["order_cancelled", "CONFIRMED", 1n],
    ["order_rejected", "insufficient stock for 1 product", 1n],
    ["payment_failed", "card_declined", 1n],
  ]);
  expect(db.sagaLatency).toMatchObject({ count: 2n, meanMs: 4000, p50Ms: bucketBound(bucketOf(3000)), p99Ms: bucketBound(bucketOf(5000)) });
  expect(db.topProducts.map((p) => [p.productId, p.name, p.units, p.currencyCode, p.revenueMinor])).toEqual([
    [s.products.p1, "Widget", 2n, "USD", 5000n],
    [s.products.p2, "Gadget", 1n, "USD", 1000n],
  ]);
  expect(db.lowStockProducts.map((p) => [p.productId, p.name, p.available, p.threshold, p.crossings])).toEqual([[s.products.p1, "Widget", 1, 2, 1n]]);
  const created = db.series.reduce((sum, p) => sum + p.ordersCreated, 0n);
  const failed = db.series.reduce((sum, p) => sum + p.ordersFailed, 0n);
  expect([created, failed]).toEqual([4n, 2n]);
}

describe("analytics service", () => {
  let runtime: TestRuntime;
  let service: RunningService;
  let client: GrpcClient<typeof AnalyticsService>;

  beforeAll(async () => {
    runtime = await createTestRuntime();
    const config = { ...(await runtime.config("analytics")), retentionDays: 0, retentionSweepMs: 60_000 };
    service = await start(config, { logger: runtime.logger });
    client = createClient(AnalyticsService, `127.0.0.1:${service.grpcPort}`, { name: "analytics", deadlineMs: 10_000 });
  });

  afterAll(async () => {
    client?.close();
    await service?.stop();
    await runtime?.cleanup();
  });

  /** The scenario's hour as the dashboard shows it. */
  async function dashboardAt(t0: Date, window = "1h") {
    const { dashboard } = await client.getDashboard({ window, endTime: timestampFromDate(new Date(t0.getTime() + 60 * 60_000)) });
    return dashboard;
  }

  /** Applies `batches` in their own transactions, `parallel` of them at a time. */
  async function applyBatches(batches: Published[][], parallel = 1) {
    const toEvents = (batch: Published[]) => batch.map((p) => toAnalyticsEvent(p.schema, create(p.schema, p.message), p.eventId));
    for (let i = 0; i < batches.length; i += parallel) {
      await Promise.all(batches.slice(i, i + parallel).map((batch) => service.orm.em.fork().transactional((em) => applyEvents(sqlOn(em), toEvents(batch)))));
    }
  }

  describe("applyEvents on batches", () => {
    it("counts a scenario applied in order as one batch", async () => {
      const t0 = new Date("2026-03-01T10:00:00Z");
      const s = scenario(t0);
      await applyBatches([s.events]);
      expectScenario(await dashboardAt(t0), s);
    });

    it("counts the same whatever the order, duplicates within batches and re-delivered batches", async () => {
      for (const [run, seed] of [7, 1234, 99_991].entries()) {
        const t0 = new Date(Date.UTC(2026, 2, 2, 10 + 2 * run, 0, 0));
        const s = scenario(t0);
        const events = shuffled(s.events, seed);
        // Batches of 1 to 5 events, each with a duplicate of one of its own events now and then.
        const batches: Published[][] = [];
        for (let i = 0, size = 1; i < events.length; i += size, size = (size % 5) + 1) {
          const batch = events.slice(i, i + size);
          batches.push(i % 3 === 0 ? [...batch, batch[0]] : batch);
        }
        await applyBatches(batches);
        // The whole stream delivered again, in other batches, some concurrently: nothing moves.
        await applyBatches(shuffled(batches, seed + 1), 3);
        expectScenario(await dashboardAt(t0), s);
      }
    });

    it("counts each order once when batches about it commit concurrently", async () => {
      const t0 = new Date("2026-03-03T10:00:00Z");
      const s = scenario(t0);
      // One event per transaction, eight at a time: the order rows are merged under their locks.
      await applyBatches(
        shuffled(s.events, 42).map((e) => [e]),
        8,
      );
      expectScenario(await dashboardAt(t0), s);
    });

    it("reports how many events of a batch were new", async () => {
      const s = scenario(new Date("2026-03-04T10:00:00Z"));
      const batch = s.events.slice(0, 4).map((p) => toAnalyticsEvent(p.schema, create(p.schema, p.message), p.eventId));
      const first = await service.orm.em.fork().transactional((em) => applyEvents(sqlOn(em), [...batch, batch[1]]));
      const again = await service.orm.em.fork().transactional((em) => applyEvents(sqlOn(em), batch));
      expect(first).toEqual({ applied: 4, duplicates: 1 });
      expect(again).toEqual({ applied: 0, duplicates: 4 });
    });
  });

  describe("through the event stream", () => {
    it("builds the dashboard and timelines from events published shuffled and twice", async () => {
      const t0 = new Date("2026-03-05T10:00:00Z");
      const s = scenario(t0);
      for (const p of shuffled(s.events, 5)) {
        await publishEvent(runtime.bus, p.schema, p.message, p.eventId);
        // The same event under another message id: a redelivery the stream cannot dedup.
        if (p.eventId.endsWith("0") || p.schema === PaymentCompletedSchema) await publishEvent(runtime.bus, p.schema, p.message, p.eventId, uuidv7());
      }
      await waitFor(async () => Number((await dashboardAt(t0))?.events) === s.events.length, { timeoutMs: 30_000, message: "every event counted" });
      expectScenario(await dashboardAt(t0), s);

      const timeline = await client.getOrderTimeline({ orderId: s.orders.a });
      expect(timeline.status).toBe(OrderStatus.DELIVERED);
      expect(timeline.entries.map((e) => [e.name, e.service])).toEqual([
        ["order.created", "order"],
        ["inventory.reserved", "inventory"],
        ["inventory.low_stock", "inventory"],
        ["payment.completed", "payment"],
        ["order.confirmed", "order"],
        ["file.invoice_generated", "file"],
        ["delivery.created", "delivery"],
        ["order.shipped", "order"],
        ["order.delivered", "order"],
        ["notification.sent", "notification"],
      ]);
      const confirmed = timeline.entries.find((e) => e.name === "order.confirmed")!;
      expect(confirmed).toMatchObject({ eventType: "shop.events.v1.OrderConfirmed", summary: "order confirmed: paid 50.00 USD" });
      expect(confirmed.occurredAt).toEqual(timestampFromDate(new Date(t0.getTime() + 3000)));
      expect(timeline.entries.map((e) => e.summary).join("\n")).not.toMatch(/tok_visa|ada@example\.com|Main St/);

      const d = await client.getOrderTimeline({ orderId: s.orders.d });
      expect(d.status).toBe(OrderStatus.CANCELLED);
      expect(d.entries.find((e) => e.name === "order.cancelled")?.summary).toBe("order cancelled while CONFIRMED; a refund is due");
      expect(d.entries.map((e) => e.summary).join("\n")).not.toContain("my private reason");
    });

    it("sends an event with a malformed order id to the DLQ and goes on", async () => {
      const orderId = uuidv7();
      await publishEvent(runtime.bus, OrderCreatedSchema, { orderId: "not-a-uuid", occurredAt: timestampFromDate(new Date()) });
      await publishEvent(runtime.bus, OrderCreatedSchema, { orderId, occurredAt: timestampFromDate(new Date()) });
      await waitFor(async () => (await client.getOrderTimeline({ orderId })).entries.length === 1, { message: "the valid event recorded" });
      await waitFor(async () => (await runtime.bus.jsm.streams.info(runtime.bus.names.dlqStream)).state.messages === 1, {
        message: "the bad one dead-lettered",
      });
    });

    it("records a payment.failed whose reason held a NUL and is cut at an emoji, dead-lettering nothing", async () => {
      const orderId = uuidv7();
      const dead = (await runtime.bus.jsm.streams.info(runtime.bus.names.dlqStream)).state.messages;
      // Cut to 197 code units for a dimension, right through the emoji.
      const reason = `\u0000${"r".repeat(195)}😀 and more`;
      await publishEvent(runtime.bus, PaymentFailedSchema, { orderId, reason, occurredAt: timestampFromDate(new Date()) });
      const { entries } = await waitFor(
        async () => {
          const timeline = await client.getOrderTimeline({ orderId });
          return timeline.entries.length === 1 && timeline;
        },
        { message: "the payment.failed recorded" },
      );
      expect(entries[0].summary).toBe(`payment failed: \ufffd${"r".repeat(195)}...`);
      expect((await runtime.bus.jsm.streams.info(runtime.bus.names.dlqStream)).state.messages).toBe(dead);
    });
  });

  describe("RPC input", () => {
    it("has an empty timeline for an order it has not seen", async () => {
      const orderId = uuidv7();
      expect(await client.getOrderTimeline({ orderId })).toMatchObject({ orderId, status: OrderStatus.UNSPECIFIED, entries: [] });
    });

    it("refuses bad windows, ids and limits with INVALID_ARGUMENT naming the field", async () => {
      await expectCode(client.getDashboard({ window: "1 hour" }), Code.INVALID_ARGUMENT, /window/);
      await expectCode(client.getDashboard({ window: "1h", windowMinutes: 30 }), Code.INVALID_ARGUMENT, /window/);
      await expectCode(client.getDashboard({ windowMinutes: 20_000 }), Code.INVALID_ARGUMENT, /window_minutes/);
      await expectCode(client.getDashboard({ topProducts: 101 }), Code.INVALID_ARGUMENT, /top_products/);
      await expectCode(client.getDashboard({ endTime: timestampFromDate(new Date(Date.now() + 3_600_000)) }), Code.INVALID_ARGUMENT, /end_time/);
      await expectCode(client.getOrderTimeline({ orderId: "" }), Code.INVALID_ARGUMENT, /order_id/);
      await expectCode(client.getOrderTimeline({ orderId: "12; drop table" }), Code.INVALID_ARGUMENT, /order_id/);
    });

    it("answers a long window with at most 120 series points", async () => {
      const { dashboard } = await client.getDashboard({ window: "7d" });
      expect(dashboard?.windowMinutes).toBe(10080);
      expect(dashboard?.seriesStepMinutes).toBe(84);
      expect(dashboard?.series).toHaveLength(120);
    });
  });
});
