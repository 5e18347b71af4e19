import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { InventoryReleasedSchema, ReleaseReason } from "../../gen/shop/events/v1/inventory_events_pb.js";
import { OrderExpiredSchema } from "../../gen/shop/events/v1/order_events_pb.js";
import { PaymentCompletedSchema } from "../../gen/shop/events/v1/payment_events_pb.js";
import { OrderStatus } from "../../gen/shop/order/v1/order_pb.js";
import { Code, ServiceError } from "../../lib/errors.js";
import { uuidv7 } from "../../lib/ids.js";
import { publishEvent } from "../../test/harness/event-log.js";
import { waitFor } from "../../test/harness/index.js";
import { ADDRESS, expectCode, type OrderTestbed, startOrderTestbed } from "../../test/harness/order-testbed.js";

describe("order expiry (inventory with a 300 ms reservation TTL)", () => {
  let t: OrderTestbed;

  beforeAll(async () => {
    t = await startOrderTestbed({ reservationTtlMs: 300 });
  });

  afterAll(async () => {
    await t?.close();
  });

  it("expires an order whose reservation times out before payment, and a late payment does not revive it", async () => {
    const customerId = await t.customer();
    const product = await t.product(5);
    const placed = await t.place(customerId, [[product.id, 2]]);
    const expired = await t.waitForStatus(placed.id, OrderStatus.EXPIRED);
    expect(expired.failureReason).toMatch(/expired/);
    expect(expired.history.map((h) => OrderStatus[h.toStatus])).toEqual(["PENDING", "RESERVED", "EXPIRED"]);
    expect((await t.log.expectEvent(InventoryReleasedSchema, placed.id)).reason).toBe(ReleaseReason.EXPIRED);
    expect(await t.log.expectEvent(OrderExpiredSchema, placed.id)).toMatchObject({ orderId: placed.id, customerId });
    expect((await t.products!.getProduct({ productId: product.id })).product).toMatchObject({ available: 5, reserved: 0 });

    const late = await publishEvent(t.runtime.bus, PaymentCompletedSchema, { orderId: placed.id, customerId, paymentId: uuidv7(), cardLast4: "4242" });
    await t.waitProcessed("order-payment-completed", late);
    expect((await t.orders.getOrder({ orderId: placed.id })).order?.status).toBe(OrderStatus.EXPIRED);
  });
});

describe("order service with inventory down", () => {
  let t: OrderTestbed;

  beforeAll(async () => {
    t = await startOrderTestbed({ inventory: false, inventoryDeadlineMs: 2_000 });
  });

  afterAll(async () => {
    await t?.close();
  });

  it("fails CreateOrder fast with UNAVAILABLE and writes nothing", async () => {
    const customerId = await t.customer();
    const request = { customerId, items: [{ productId: uuidv7(), quantity: 1 }], shippingAddress: ADDRESS, paymentMethod: { token: "tok_visa" } };
    for (let i = 0; i < 3; i++) {
      const started = Date.now();
      await expectCode(t.orders.createOrder({ ...request, idempotencyKey: `k${i}` }), Code.UNAVAILABLE, /inventory/);
      expect(Date.now() - started).toBeLessThan(1_500);
    }
    // In bulk, every order reports UNAVAILABLE on its own.
    const { results } = await t.orders.createOrders({ orders: [request, request] });
    expect(results.map((r) => r.result.case === "error" && r.result.value.code)).toEqual([Code.UNAVAILABLE, Code.UNAVAILABLE]);

    const counts = await t.sql<{ orders: number; keys: number; outbox: number }>(
      "SELECT (SELECT count(*)::int FROM orders) AS orders, (SELECT count(*)::int FROM idempotency_keys) AS keys, (SELECT count(*)::int FROM outbox) AS outbox",
    );
    expect(counts[0]).toEqual({ orders: 0, keys: 0, outbox: 0 });
  });

  it("still validates before calling inventory, and reads the customer only after it", async () => {
    await expectCode(
      t.orders.createOrder({ customerId: uuidv7(), items: [], shippingAddress: ADDRESS, paymentMethod: { token: "t" } }),
      Code.INVALID_ARGUMENT,
      /^items/,
    );
    // The customer is read after the catalog and the shedding decision (no database work for a
    // shed request), so with inventory down an unknown customer hears UNAVAILABLE too.
    await expectCode(
      t.orders.createOrder({ customerId: uuidv7(), items: [{ productId: uuidv7(), quantity: 1 }], shippingAddress: ADDRESS, paymentMethod: { token: "t" } }),
      Code.UNAVAILABLE,
      /inventory/,
    );
  });
});

describe("order service behind on its sagas", () => {
  let t: OrderTestbed;

  beforeAll(async () => {
    // Without a payment service every order stays RESERVED: one order 200 ms old is "behind".
    t = await startOrderTestbed({ sagaBacklog: { maxAgeMs: 200, minOrders: 1 } });
  });

  afterAll(async () => {
    await t?.close();
  });

  it("sheds CreateOrder and CreateOrders with RESOURCE_EXHAUSTED and a retry delay, and writes nothing", async () => {
    const customerId = await t.customer();
    // Enough units that the orders placed until shedding starts cannot sell it out.
    const product = await t.product(1000);
    const first = await t.place(customerId, [[product.id, 1]]);
    await t.waitForStatus(first.id, OrderStatus.RESERVED);
    const request = { customerId, items: [{ productId: product.id, quantity: 1 }], shippingAddress: ADDRESS, paymentMethod: { token: "tok_visa" } };
    const shed = await waitFor(
      async () => {
        try {
          await t.orders.createOrder({ ...request, idempotencyKey: `shed-${uuidv7()}` });
          return false;
        } catch (error) {
          return error instanceof ServiceError && error.code === Code.RESOURCE_EXHAUSTED && error;
        }
      },
      { message: "CreateOrder to shed" },
    );
    expect(shed.message).toMatch(/in progress.*retry in \d+ s/);
    expect(shed.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    // While shedding, neither a single nor a bulk create writes anything.
    const count = async () => Number((await t.sql<{ n: string }>("select count(*) as n from orders where customer_id = ?", [customerId]))[0].n);
    const before = await count();
    await expectCode(t.orders.createOrder({ ...request, idempotencyKey: `shed-${uuidv7()}` }), Code.RESOURCE_EXHAUSTED, /retry in/);
    await expectCode(t.orders.createOrders({ orders: [request] }), Code.RESOURCE_EXHAUSTED, /retry in/);
    expect(await count()).toBe(before);
    // Shed before any database work: not even the customer is looked up.
    await expectCode(t.orders.createOrder({ ...request, customerId: uuidv7() }), Code.RESOURCE_EXHAUSTED, /retry in/);
  });

  it("answers a sold-out product as sold out while it sheds: a refusal costs no saga", async () => {
    const customerId = await t.customer();
    const plenty = await t.product(1000);
    const scarce = await t.product(1);
    const order = (productId: string) => ({ customerId, items: [{ productId, quantity: 1 }], shippingAddress: ADDRESS, paymentMethod: { token: "tok_visa" } });
    const codeOf = (call: Promise<unknown>) =>
      call.then(
        () => Code.OK,
        (error: unknown) => (error instanceof ServiceError ? error.code : Code.UNKNOWN),
      );
    await waitFor(async () => (await codeOf(t.orders.createOrder(order(plenty.id)))) === Code.RESOURCE_EXHAUSTED, { message: "CreateOrder to shed" });
    // Shed while in stock (and now in the catalog cache as such)...
    await expectCode(t.orders.createOrder(order(scarce.id)), Code.RESOURCE_EXHAUSTED, /retry in/);
    // ...then its last unit goes: inventory's product_changed makes the next order a refusal, not a shed.
    await t.products!.adjustStock({ productId: scarce.id, delta: -1, reason: "damaged" });
    const soldOut = new RegExp(`product ${scarce.id} is sold out`);
    await waitFor(async () => (await codeOf(t.orders.createOrder(order(scarce.id)))) === Code.FAILED_PRECONDITION, {
      message: "CreateOrder answering sold out",
    });
    await expectCode(t.orders.createOrder(order(scarce.id)), Code.FAILED_PRECONDITION, soldOut);
    await expectCode(t.orders.createOrder(order(plenty.id)), Code.RESOURCE_EXHAUSTED, /retry in/);
  });
});
