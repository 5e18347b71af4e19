import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { DeliveryStatusChangedSchema } from "../../gen/shop/events/v1/delivery_events_pb.js";
import { InventoryReleasedSchema, InventoryReservedSchema, ReleaseReason } from "../../gen/shop/events/v1/inventory_events_pb.js";
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
import { DeliveryStatus } from "../../gen/shop/delivery/v1/delivery_pb.js";
import { ProductStatus } from "../../gen/shop/inventory/v1/inventory_pb.js";
import { type Order, OrderStatus, type WatchOrderResponse } from "../../gen/shop/order/v1/order_pb.js";
import { fromBinary } from "@bufbuild/protobuf";
import { Code, ServiceError } from "../../lib/errors.js";
import { uuidv7 } from "../../lib/ids.js";
import { publishEvent } from "../../test/harness/event-log.js";
import { waitFor } from "../../test/harness/index.js";
import { ADDRESS, expectCode, type OrderTestbed, startOrderTestbed } from "../../test/harness/order-testbed.js";

describe("order service (with the real inventory service)", () => {
  let t: OrderTestbed;

  beforeAll(async () => {
    t = await startOrderTestbed();
  });

  afterAll(async () => {
    await t?.close();
  });

  const history = (order: Order) => order.history.map((h) => [OrderStatus[h.fromStatus], OrderStatus[h.toStatus]]);
  const stock = async (productId: string) => (await t.products!.getProduct({ productId })).product!;

  /** An order that reached RESERVED. */
  async function reservedOrder(quantity = 1) {
    const customerId = await t.customer();
    const product = await t.product(10);
    const placed = await t.place(customerId, [[product.id, quantity]]);
    await t.waitForStatus(placed.id, OrderStatus.RESERVED);
    return { customerId, product, orderId: placed.id };
  }

  /** An order that reached CONFIRMED (payment.completed published by the test). */
  async function confirmedOrder() {
    const reserved = await reservedOrder();
    const eventId = await publishEvent(t.runtime.bus, PaymentCompletedSchema, {
      orderId: reserved.orderId,
      customerId: reserved.customerId,
      paymentId: uuidv7(),
      amount: { currencyCode: "USD", amountMinor: 1999n },
      cardLast4: "4242",
    });
    await t.waitForStatus(reserved.orderId, OrderStatus.CONFIRMED);
    return { ...reserved, paymentEventId: eventId };
  }

  describe("customers", () => {
    it("creates and reads a customer; emails are unique regardless of case", async () => {
      const email = `Grace-${uuidv7()}@Example.com`;
      const { customer } = await t.orders.createCustomer({ email, name: "Grace Hopper", phone: "+1 555 010 0999" });
      expect(customer).toMatchObject({ email, name: "Grace Hopper", phone: "+15550100999" });
      expect((await t.orders.getCustomer({ customerId: customer!.id })).customer).toMatchObject({ id: customer!.id, email });
      await expectCode(t.orders.createCustomer({ email: email.toLowerCase(), name: "Imposter" }), Code.ALREADY_EXISTS, /already exists/);
    });

    it("names the bad field and answers NOT_FOUND for an unknown customer", async () => {
      expect((await expectCode(t.orders.createCustomer({ email: "nope", name: "x" }), Code.INVALID_ARGUMENT, /^email/)).field).toBe("email");
      await expectCode(t.orders.createCustomer({ email: "a@example.com", name: "" }), Code.INVALID_ARGUMENT, /^name/);
      await expectCode(t.orders.createCustomer({ email: "a@example.com", name: "A", phone: "abc" }), Code.INVALID_ARGUMENT, /^phone/);
      await expectCode(t.orders.getCustomer({ customerId: "x" }), Code.INVALID_ARGUMENT, /customer_id/);
      await expectCode(t.orders.getCustomer({ customerId: uuidv7() }), Code.NOT_FOUND);
    });
  });

  describe("contact details in order.created", () => {
    it("carries the customer as they are now, after a change this replica did not make", async () => {
      const customerId = await t.customer();
      const product = await t.product(10);
      const first = await t.place(customerId, [[product.id, 1]]);
      const before = await t.log.expectEvent(OrderCreatedSchema, first.id);
      // As another replica's UpdateCustomer would: this replica still remembers the old details.
      const email = `renamed-${uuidv7()}@example.com`;
      await t.sql("UPDATE customers SET email = ?, name = ?, phone = '' WHERE id = ?", [email, "Ada King", customerId]);
      const second = await t.place(customerId, [[product.id, 1]]);
      const after = await t.log.expectEvent(OrderCreatedSchema, second.id);
      expect(before).toMatchObject({ customerName: "Ada Lovelace", customerPhone: "+15550100" });
      expect(after).toMatchObject({ customerEmail: email, customerName: "Ada King", customerPhone: "" });
      // Each order was stored once, with its one history row.
      expect(await t.sql("SELECT count(*)::int AS n FROM orders WHERE customer_id = ?", [customerId])).toEqual([{ n: 2 }]);
    });
  });

  describe("customer records", () => {
    it("registers under a given id with an address, refuses that id twice, and lists customers in pages", async () => {
      const id = uuidv7();
      const email = `self-${id}@example.com`;
      const { customer } = await t.orders.createCustomer({ customerId: id, email, name: "Self", address: { ...ADDRESS, countryCode: "us" } });
      expect(customer).toMatchObject({ id, email, address: { line1: "1 Main St", countryCode: "US" } });
      await expectCode(t.orders.createCustomer({ customerId: id, email: `other-${id}@example.com`, name: "Again" }), Code.ALREADY_EXISTS, /already registered/);
      await expectCode(t.orders.createCustomer({ customerId: "nope", email: `x-${id}@example.com`, name: "X" }), Code.INVALID_ARGUMENT, /^customer_id/);
      await expectCode(
        t.orders.createCustomer({ email: `y-${id}@example.com`, name: "Y", address: { line1: "x" } }),
        Code.INVALID_ARGUMENT,
        /^address\.country_code/,
      );

      const seen: string[] = [];
      let pageToken = "";
      do {
        const page = await t.orders.listCustomers({ pageSize: 2, pageToken });
        expect(page.customers.length).toBeLessThanOrEqual(2);
        seen.push(...page.customers.map((c) => c.id));
        pageToken = page.nextPageToken;
      } while (pageToken);
      expect(seen).toContain(id);
      expect(new Set(seen).size).toBe(seen.length);
      expect([...seen].sort()).toEqual(seen);
    });

    it("updates only the fields that are set, keeps emails unique, and names bad input", async () => {
      const id = await t.customer();
      const other = (await t.orders.getCustomer({ customerId: await t.customer() })).customer!;
      const before = (await t.orders.getCustomer({ customerId: id })).customer!;
      const { customer } = await t.orders.updateCustomer({ customerId: id, name: "Ada King", phone: "", address: ADDRESS });
      expect(customer).toMatchObject({ id, email: before.email, name: "Ada King", phone: "", address: { city: "Springfield" } });
      expect((await t.orders.getCustomer({ customerId: id })).customer).toMatchObject({ name: "Ada King", address: { city: "Springfield" } });
      await expectCode(t.orders.updateCustomer({ customerId: id, email: other.email.toUpperCase() }), Code.ALREADY_EXISTS, /already exists/);
      await expectCode(t.orders.updateCustomer({ customerId: id }), Code.INVALID_ARGUMENT, /nothing to update/);
      await expectCode(t.orders.updateCustomer({ customerId: id, email: "bad" }), Code.INVALID_ARGUMENT, /^email/);
      await expectCode(t.orders.updateCustomer({ customerId: uuidv7(), name: "Nobody" }), Code.NOT_FOUND);
    });
  });

  describe("UpdateOrderStatus and CancelOrders", () => {
    it("moves an order only along the state machine and publishes what the saga would", async () => {
      const { orderId } = await confirmedOrder();
      await expectCode(t.orders.updateOrderStatus({ orderId, status: OrderStatus.DELIVERED + 100 }), Code.INVALID_ARGUMENT, /^status/);
      await expectCode(t.orders.updateOrderStatus({ orderId, status: OrderStatus.RESERVED }), Code.INVALID_ARGUMENT, /only by the order saga/);
      await expectCode(t.orders.updateOrderStatus({ orderId, status: OrderStatus.UNSPECIFIED }), Code.INVALID_ARGUMENT, /^status/);

      const { order } = await t.orders.updateOrderStatus({ orderId, status: OrderStatus.SHIPPED, reason: "handed to the courier" });
      expect(order).toMatchObject({ status: OrderStatus.SHIPPED });
      expect(order!.history.at(-1)).toMatchObject({
        fromStatus: OrderStatus.CONFIRMED,
        toStatus: OrderStatus.SHIPPED,
        reason: "handed to the courier",
        eventId: "",
      });
      await t.log.expectEvent(OrderShippedSchema, orderId);
      // The same status again changes nothing; a move the state machine refuses is FAILED_PRECONDITION.
      expect((await t.orders.updateOrderStatus({ orderId, status: OrderStatus.SHIPPED })).order!.history).toHaveLength(order!.history.length);
      await expectCode(t.orders.updateOrderStatus({ orderId, status: OrderStatus.CANCELLED }), Code.FAILED_PRECONDITION, /SHIPPED and cannot become CANCELLED/);
      expect((await t.orders.updateOrderStatus({ orderId, status: OrderStatus.DELIVERED })).order).toMatchObject({ status: OrderStatus.DELIVERED });
      await expectCode(t.orders.updateOrderStatus({ orderId: uuidv7(), status: OrderStatus.SHIPPED }), Code.NOT_FOUND);
    });

    it("cancels each order on its own, reporting one result per id in order, scoped to a customer when asked", async () => {
      const a = await reservedOrder();
      const b = await confirmedOrder();
      const foreign = await reservedOrder();
      await t.orders.updateOrderStatus({ orderId: b.orderId, status: OrderStatus.SHIPPED });
      const unknown = uuidv7();
      const { results } = await t.orders.cancelOrders({ orderIds: [a.orderId, b.orderId, unknown], reason: "changed my mind" });
      expect(results.map((r) => r.orderId)).toEqual([a.orderId, b.orderId, unknown]);
      expect(results[0].result).toMatchObject({ case: "order", value: { status: OrderStatus.CANCELLED, failureReason: "changed my mind" } });
      expect(results[1].result).toMatchObject({ case: "error", value: { code: Code.FAILED_PRECONDITION } });
      expect(results[2].result).toMatchObject({ case: "error", value: { code: Code.NOT_FOUND } });
      await waitFor(async () => (await stock(a.product.id)).reserved === 0, { message: "stock of the cancelled order released" });

      const scoped = await t.orders.cancelOrders({ orderIds: [foreign.orderId], customerId: a.customerId });
      expect(scoped.results[0].result).toMatchObject({ case: "error", value: { code: Code.NOT_FOUND } });
      expect((await t.orders.getOrder({ orderId: foreign.orderId })).order!.status).toBe(OrderStatus.RESERVED);

      await expectCode(t.orders.cancelOrders({ orderIds: [] }), Code.INVALID_ARGUMENT, /^order_ids/);
      await expectCode(t.orders.cancelOrders({ orderIds: [a.orderId, a.orderId] }), Code.INVALID_ARGUMENT, /order_ids\[1\].*duplicates/);
      await expectCode(t.orders.cancelOrders({ orderIds: Array.from({ length: 101 }, () => uuidv7()) }), Code.INVALID_ARGUMENT, /at most 100/);
    });
  });

  describe("CreateOrder", () => {
    it("prices from inventory, stores the order PENDING, publishes order.created once, and reaches RESERVED", async () => {
      const customerId = await t.customer();
      const a = await t.product(10, 1999n);
      const b = await t.product(10, 250n);
      const placed = await t.place(customerId, [
        [a.id, 3],
        [b.id, 2],
      ]);
      expect(placed.status).toBe(OrderStatus.PENDING);
      expect(placed.total).toMatchObject({ currencyCode: "USD", amountMinor: 3n * 1999n + 2n * 250n });
      expect(placed.items.map((i) => [i.productId, i.quantity, i.unitPrice?.amountMinor, i.lineTotal?.amountMinor, i.productName])).toEqual([
        [a.id, 3, 1999n, 5997n, a.name],
        [b.id, 2, 250n, 500n, b.name],
      ]);
      expect(placed.shippingAddress).toMatchObject(ADDRESS);

      const reserved = await t.waitForStatus(placed.id, OrderStatus.RESERVED);
      expect(history(reserved)).toEqual([
        ["UNSPECIFIED", "PENDING"],
        ["PENDING", "RESERVED"],
      ]);
      const reservedEvent = await t.log.expectEvent(InventoryReservedSchema, placed.id);
      expect(reserved.history[1].eventId).not.toBe("");
      expect(reserved.history[0].eventId).toBe("");

      const created = await t.log.events(OrderCreatedSchema, placed.id);
      expect(created).toHaveLength(1);
      expect(created[0]).toMatchObject({
        customerId,
        total: { currencyCode: "USD", amountMinor: 6497n },
        paymentMethod: { token: "tok_visa" },
        shippingAddress: ADDRESS,
        customerName: "Ada Lovelace",
        customerPhone: "+15550100",
      });
      expect(created[0].customerEmail).toMatch(/@example.com$/);
      expect(created[0].lines.map((l) => [l.productId, l.quantity, l.unitPrice?.amountMinor, l.productName])).toEqual([
        [a.id, 3, 1999n, a.name],
        [b.id, 2, 250n, b.name],
      ]);
      expect(reservedEvent.lines).toHaveLength(2);
      expect(await stock(a.id)).toMatchObject({ available: 7, reserved: 3 });
    });

    it("rejects an order inventory cannot fill, naming the product", async () => {
      const customerId = await t.customer();
      const scarce = await t.product(1);
      const plenty = await t.product(10);
      const placed = await t.place(customerId, [
        [plenty.id, 1],
        [scarce.id, 2],
      ]);
      const rejected = await t.waitForStatus(placed.id, OrderStatus.REJECTED);
      expect(rejected.failureReason).toContain(scarce.id);
      expect(history(rejected)).toEqual([
        ["UNSPECIFIED", "PENDING"],
        ["PENDING", "REJECTED"],
      ]);
      const event = await t.log.expectEvent(OrderRejectedSchema, placed.id);
      expect(event.shortProductIds).toEqual([scarce.id]);
      expect(event.reason).toContain(scarce.id);
      expect(await stock(plenty.id)).toMatchObject({ available: 10, reserved: 0 });
    });

    it("prices from its catalog cache until inventory says the product changed", async () => {
      const customerId = await t.customer();
      const product = await t.product(50, 1000n);
      expect((await t.place(customerId, [[product.id, 1]])).total?.amountMinor).toBe(1000n);
      await t.products!.updateProduct({ productId: product.id, price: { currencyCode: "USD", amountMinor: 1500n } });
      // Far shorter than the cache's 30 s TTL: only inventory's product_changed event can drop the old price.
      const repriced = await waitFor(
        async () => {
          const order = await t.place(customerId, [[product.id, 1]]);
          return order.total?.amountMinor === 1500n ? order : undefined;
        },
        { timeoutMs: 10_000, intervalMs: 100, message: "an order priced with the new price" },
      );
      expect(repriced.items[0]?.unitPrice?.amountMinor).toBe(1500n);
      await t.products!.updateProduct({ productId: product.id, status: ProductStatus.DISCONTINUED });
      await waitFor(
        async () => {
          const refused = await t.place(customerId, [[product.id, 1]]).then(
            () => false,
            (error: unknown) => /DISCONTINUED/.test(String(error)),
          );
          return refused || undefined;
        },
        { timeoutMs: 10_000, intervalMs: 100, message: "CreateOrder refusing the discontinued product" },
      );
    });

    it("refuses a sold-out product at once, without an order, and accepts orders again once units come back", async () => {
      const product = await t.product(1);
      const last = await t.place(await t.customer(), [[product.id, 1]]);
      await t.waitForStatus(last.id, OrderStatus.RESERVED);
      const soldOut = new RegExp(`product ${product.id} is sold out`);
      const isSoldOut = (error: unknown) => error instanceof ServiceError && error.code === Code.FAILED_PRECONDITION && soldOut.test(error.message);
      // Inventory announces the last unit's reservation; until the order service hears it, an order
      // may still get through (and is REJECTED by the saga, as before).
      const prober = await t.customer();
      await waitFor(async () => t.place(prober, [[product.id, 1]]).then(() => false, isSoldOut), {
        timeoutMs: 10_000,
        intervalMs: 50,
        message: "CreateOrder refusing the sold-out product",
      });

      const customerId = await t.customer();
      const other = await t.product(5);
      const refused = await expectCode(
        t.place(customerId, [
          [other.id, 1],
          [product.id, 1],
        ]),
        Code.FAILED_PRECONDITION,
        soldOut,
      );
      expect(refused.field).toBe("items[1].product_id");
      const orders = async () => (await t.sql<{ n: number }>("SELECT count(*)::int AS n FROM orders WHERE customer_id = ?", [customerId]))[0].n;
      expect(await orders()).toBe(0);

      // The unit comes back when the order holding it is cancelled: orders are taken again.
      await t.orders.cancelOrder({ orderId: last.id, reason: "changed my mind" });
      const again = await waitFor(
        async () =>
          t.place(customerId, [[product.id, 1]]).catch((error: unknown) => {
            if (isSoldOut(error)) return undefined;
            throw error;
          }),
        { timeoutMs: 10_000, intervalMs: 50, message: "CreateOrder accepting the product again" },
      );
      expect(await orders()).toBe(1);
      await t.waitForStatus(again.id, OrderStatus.RESERVED);
    });

    it("refuses products that are unknown, not ACTIVE, or in another currency, and unknown customers", async () => {
      const customerId = await t.customer();
      const active = await t.product(5);
      const inactive = await t.product(5);
      await t.products!.updateProduct({ productId: inactive.id, status: ProductStatus.DISCONTINUED });
      const euro = await t.product(5, 100n, "EUR");
      const missing = uuidv7();
      const notFound = await expectCode(
        t.place(customerId, [
          [active.id, 1],
          [missing, 1],
        ]),
        Code.NOT_FOUND,
        new RegExp(missing),
      );
      expect(notFound.field).toBe("items[1].product_id");
      await expectCode(t.place(customerId, [[inactive.id, 1]]), Code.FAILED_PRECONDITION, /items\[0\].product_id: .*DISCONTINUED/);
      await expectCode(
        t.place(customerId, [
          [active.id, 1],
          [euro.id, 1],
        ]),
        Code.INVALID_ARGUMENT,
        /items\[1\].product_id: .*EUR/,
      );
      await expectCode(
        t.orders.createOrder({
          customerId,
          items: [{ productId: active.id, quantity: 1 }],
          shippingAddress: ADDRESS,
          paymentMethod: { token: "t" },
          currencyCode: "EUR",
        }),
        Code.INVALID_ARGUMENT,
        /items\[0\].product_id/,
      );
      await expectCode(t.place(uuidv7(), [[active.id, 1]]), Code.NOT_FOUND, /customer/);
      const [{ count }] = await t.sql<{ count: number }>("SELECT count(*)::int AS count FROM orders WHERE customer_id = ?", [customerId]);
      expect(count).toBe(0);
    });

    it("answers INVALID_ARGUMENT naming each bad field", async () => {
      const customerId = await t.customer();
      const productId = uuidv7();
      const good = { customerId, items: [{ productId, quantity: 1 }], shippingAddress: ADDRESS, paymentMethod: { token: "tok_visa" } };
      const cases: [string, object][] = [
        ["customer_id", { customerId: "42" }],
        ["items", { items: [] }],
        ["items[0].product_id", { items: [{ productId: "p1", quantity: 1 }] }],
        ["items[0].quantity", { items: [{ productId, quantity: 0 }] }],
        [
          "items[1].product_id",
          {
            items: [
              { productId, quantity: 1 },
              { productId, quantity: 1 },
            ],
          },
        ],
        ["shipping_address", { shippingAddress: undefined }],
        ["shipping_address.line1", { shippingAddress: { ...ADDRESS, line1: "" } }],
        ["shipping_address.country_code", { shippingAddress: { ...ADDRESS, countryCode: "USA" } }],
        ["payment_method", { paymentMethod: undefined }],
        ["payment_method.token", { paymentMethod: { token: "" } }],
        ["idempotency_key", { idempotencyKey: "k".repeat(201) }],
        ["currency_code", { currencyCode: "dollars" }],
      ];
      for (const [field, change] of cases) {
        const error = await expectCode(t.orders.createOrder({ ...good, ...change }), Code.INVALID_ARGUMENT);
        expect({ field: error.field, message: error.message.startsWith(`${field}:`) }).toEqual({ field, message: true });
      }
    });
  });

  describe("idempotency", () => {
    it("returns the original order for the same key and request, ALREADY_EXISTS for another request", async () => {
      const customerId = await t.customer();
      const product = await t.product(10);
      const key = `key-${uuidv7()}`;
      const first = await t.place(customerId, [[product.id, 1]], { idempotencyKey: key });
      const again = await t.place(customerId, [[product.id, 1]], { idempotencyKey: key });
      expect(again.id).toBe(first.id);
      await expectCode(t.place(customerId, [[product.id, 2]], { idempotencyKey: key }), Code.ALREADY_EXISTS, /idempotency_key/);
      // Keys are scoped to the customer.
      const other = await t.place(await t.customer(), [[product.id, 1]], { idempotencyKey: key });
      expect(other.id).not.toBe(first.id);
      await t.waitForStatus(first.id, OrderStatus.RESERVED);
      expect(await t.log.events(OrderCreatedSchema, first.id)).toHaveLength(1);
    });

    it("places one order for concurrent requests with the same key", async () => {
      const customerId = await t.customer();
      const product = await t.product(10);
      const key = `key-${uuidv7()}`;
      const results = await Promise.all(Array.from({ length: 8 }, () => t.place(customerId, [[product.id, 1]], { idempotencyKey: key })));
      expect(new Set(results.map((o) => o.id)).size).toBe(1);
      const [{ count }] = await t.sql<{ count: number }>("SELECT count(*)::int AS count FROM orders WHERE customer_id = ?", [customerId]);
      expect(count).toBe(1);
      await t.waitForStatus(results[0].id, OrderStatus.RESERVED);
      expect(await stock(product.id)).toMatchObject({ available: 9, reserved: 1 });
    });
  });

  describe("saga", () => {
    it("does not reserve twice when order.created is delivered again", async () => {
      const { orderId, product } = await reservedOrder(2);
      const [row] = await t.sql<{ id: string; payload: Buffer }>("SELECT id, payload FROM outbox WHERE aggregate_id = ? AND event_type = ?", [
        orderId,
        OrderCreatedSchema.typeName,
      ]);
      const created = fromBinary(OrderCreatedSchema, new Uint8Array(row.payload));
      // Same event id, another message id: JetStream's de-duplication cannot catch it.
      await publishEvent(t.runtime.bus, OrderCreatedSchema, created, row.id, uuidv7());
      // A marker order placed afterwards: once it is reserved, the redelivery was handled.
      const marker = await t.place(await t.customer(), [[product.id, 1]]);
      await t.waitForStatus(marker.id, OrderStatus.RESERVED);
      expect(await t.log.events(InventoryReservedSchema, orderId)).toHaveLength(1);
      expect(await stock(product.id)).toMatchObject({ available: 7, reserved: 3 });
      expect(history(await t.waitForStatus(orderId, OrderStatus.RESERVED))).toHaveLength(2);
    });

    it("confirms on payment.completed, recording the event in the history", async () => {
      const { orderId, product, paymentEventId } = await confirmedOrder();
      const { order } = await t.orders.getOrder({ orderId });
      expect(order).toMatchObject({ status: OrderStatus.CONFIRMED, cardLast4: "4242", failureReason: "" });
      expect(history(order!)).toEqual([
        ["UNSPECIFIED", "PENDING"],
        ["PENDING", "RESERVED"],
        ["RESERVED", "CONFIRMED"],
      ]);
      expect(order!.history[2].eventId).toBe(paymentEventId);
      const confirmed = await t.log.expectEvent(OrderConfirmedSchema, orderId);
      expect(confirmed).toMatchObject({ cardLast4: "4242", total: { amountMinor: 1999n }, shippingAddress: ADDRESS });
      expect(confirmed.lines).toEqual([expect.objectContaining({ productId: product.id, quantity: 1 })]);
      // Inventory commits the reservation on order.confirmed.
      await waitFor(async () => (await stock(product.id)).sold === 1, { message: "stock sold" });
    });

    it("fails on payment.failed and inventory releases the stock", async () => {
      const { orderId, customerId, product } = await reservedOrder(3);
      await publishEvent(t.runtime.bus, PaymentFailedSchema, { orderId, customerId, paymentId: uuidv7(), reason: "card_declined" });
      const failed = await t.waitForStatus(orderId, OrderStatus.PAYMENT_FAILED);
      expect(failed.failureReason).toBe("card_declined");
      expect((await t.log.expectEvent(OrderPaymentFailedSchema, orderId)).reason).toBe("card_declined");
      expect((await t.log.expectEvent(InventoryReleasedSchema, orderId)).reason).toBe(ReleaseReason.PAYMENT_FAILED);
      expect(await stock(product.id)).toMatchObject({ available: 10, reserved: 0 });
      // A late payment.completed does not resurrect it.
      const late = await publishEvent(t.runtime.bus, PaymentCompletedSchema, { orderId, customerId, paymentId: uuidv7(), cardLast4: "4242" });
      await t.waitProcessed("order-payment-completed", late);
      expect((await t.orders.getOrder({ orderId })).order?.status).toBe(OrderStatus.PAYMENT_FAILED);
    });

    it("records refunds without changing the status", async () => {
      const { orderId, customerId } = await confirmedOrder();
      const eventId = await publishEvent(t.runtime.bus, PaymentRefundedSchema, {
        orderId,
        customerId,
        paymentId: uuidv7(),
        refundId: uuidv7(),
        amount: { currencyCode: "USD", amountMinor: 500n },
      });
      await t.waitProcessed("order-payment-refunded", eventId);
      const [row] = await t.sql<{ status: string; refunded_minor: string }>("SELECT status, refunded_minor FROM orders WHERE id = ?", [orderId]);
      expect(row).toEqual({ status: "CONFIRMED", refunded_minor: "500" });
    });

    it("moves CONFIRMED -> SHIPPED -> DELIVERED on delivery events and ignores late or duplicate ones", async () => {
      const { orderId, customerId } = await confirmedOrder();
      const deliveryId = uuidv7();
      const delivery = (from: DeliveryStatus, to: DeliveryStatus) =>
        publishEvent(t.runtime.bus, DeliveryStatusChangedSchema, {
          orderId,
          customerId,
          deliveryId,
          fromStatus: from,
          toStatus: to,
          carrier: "UPS",
          trackingNumber: "1Z999",
        });
      await delivery(DeliveryStatus.PENDING, DeliveryStatus.IN_TRANSIT);
      await t.waitForStatus(orderId, OrderStatus.SHIPPED);
      expect(await t.log.expectEvent(OrderShippedSchema, orderId)).toMatchObject({ deliveryId, carrier: "UPS", trackingNumber: "1Z999" });
      await delivery(DeliveryStatus.IN_TRANSIT, DeliveryStatus.DELIVERED);
      await t.waitForStatus(orderId, OrderStatus.DELIVERED);
      expect(await t.log.expectEvent(OrderDeliveredSchema, orderId)).toMatchObject({ deliveryId });
      // In transit again, late: ignored; so is cancelling a delivered order.
      const late = await delivery(DeliveryStatus.PENDING, DeliveryStatus.IN_TRANSIT);
      await t.waitProcessed("order-delivery-status", late);
      await expectCode(t.orders.cancelOrder({ orderId, reason: "too late" }), Code.FAILED_PRECONDITION, /DELIVERED/);
      const { order } = await t.orders.getOrder({ orderId });
      expect(order?.status).toBe(OrderStatus.DELIVERED);
      expect(history(order!).slice(-3)).toEqual([
        ["RESERVED", "CONFIRMED"],
        ["CONFIRMED", "SHIPPED"],
        ["SHIPPED", "DELIVERED"],
      ]);
      expect(await t.log.events(OrderShippedSchema, orderId)).toHaveLength(1);
    });

    it("goes straight to DELIVERED when DELIVERED overtakes IN_TRANSIT", async () => {
      const { orderId, customerId } = await confirmedOrder();
      const deliveryId = uuidv7();
      await publishEvent(t.runtime.bus, DeliveryStatusChangedSchema, { orderId, customerId, deliveryId, toStatus: DeliveryStatus.DELIVERED });
      await t.waitForStatus(orderId, OrderStatus.DELIVERED);
      const late = await publishEvent(t.runtime.bus, DeliveryStatusChangedSchema, { orderId, customerId, deliveryId, toStatus: DeliveryStatus.IN_TRANSIT });
      await t.waitProcessed("order-delivery-status", late);
      expect((await t.orders.getOrder({ orderId })).order?.status).toBe(OrderStatus.DELIVERED);
      expect(await t.log.events(OrderShippedSchema, orderId)).toHaveLength(0);
    });
  });

  describe("CancelOrder", () => {
    it("cancels a RESERVED order, inventory releases the stock, and a second cancel changes nothing", async () => {
      const { orderId, product } = await reservedOrder(4);
      expect(await stock(product.id)).toMatchObject({ available: 6, reserved: 4 });
      const { order } = await t.orders.cancelOrder({ orderId, reason: "changed my mind" });
      expect(order).toMatchObject({ status: OrderStatus.CANCELLED, failureReason: "changed my mind" });
      expect(history(order!).at(-1)).toEqual(["RESERVED", "CANCELLED"]);
      expect(await t.log.expectEvent(OrderCancelledSchema, orderId)).toMatchObject({
        previousStatus: "RESERVED",
        wasCharged: false,
        reason: "changed my mind",
      });
      expect((await t.log.expectEvent(InventoryReleasedSchema, orderId)).reason).toBe(ReleaseReason.CANCELLED);
      expect(await stock(product.id)).toMatchObject({ available: 10, reserved: 0 });

      const again = await t.orders.cancelOrder({ orderId, reason: "again" });
      expect(again.order).toMatchObject({ status: OrderStatus.CANCELLED, failureReason: "changed my mind" });
      expect(again.order!.history).toHaveLength(order!.history.length);
      expect(await t.log.events(OrderCancelledSchema, orderId)).toHaveLength(1);
    });

    it("marks a cancelled CONFIRMED order as charged, and returns sold stock", async () => {
      const { orderId, product } = await confirmedOrder();
      await waitFor(async () => (await stock(product.id)).sold === 1, { message: "stock sold" });
      await t.orders.cancelOrder({ orderId, reason: "" });
      expect(await t.log.expectEvent(OrderCancelledSchema, orderId)).toMatchObject({
        previousStatus: "CONFIRMED",
        wasCharged: true,
        reason: "cancelled by customer",
      });
      await waitFor(async () => (await stock(product.id)).sold === 0, { message: "stock returned" });
      expect(await stock(product.id)).toMatchObject({ available: 10, reserved: 0, sold: 0 });
    });

    it("validates its input", async () => {
      await expectCode(t.orders.cancelOrder({ orderId: "x" }), Code.INVALID_ARGUMENT, /order_id/);
      await expectCode(t.orders.cancelOrder({ orderId: uuidv7() }), Code.NOT_FOUND);
      await expectCode(t.orders.cancelOrder({ orderId: uuidv7(), reason: "r".repeat(501) }), Code.INVALID_ARGUMENT, /reason/);
    });
  });

  describe("WatchOrder", () => {
    it("streams every change in order and ends at a final status", async () => {
      const customerId = await t.customer();
      const product = await t.product(10);
      const placed = await t.place(customerId, [[product.id, 1]]);
      const messages: WatchOrderResponse[] = [];
      const watching = (async () => {
        for await (const message of t.orders.watchOrder({ orderId: placed.id })) messages.push(message);
      })();
      await waitFor(() => messages.length > 0, { message: "the first message" });
      expect(messages[0].change).toBeUndefined();
      expect(messages[0].order?.id).toBe(placed.id);

      await t.waitForStatus(placed.id, OrderStatus.RESERVED);
      await publishEvent(t.runtime.bus, PaymentCompletedSchema, { orderId: placed.id, customerId, paymentId: uuidv7(), cardLast4: "1111" });
      await t.waitForStatus(placed.id, OrderStatus.CONFIRMED);
      await publishEvent(t.runtime.bus, DeliveryStatusChangedSchema, { orderId: placed.id, customerId, toStatus: DeliveryStatus.IN_TRANSIT });
      await t.waitForStatus(placed.id, OrderStatus.SHIPPED);
      await publishEvent(t.runtime.bus, DeliveryStatusChangedSchema, { orderId: placed.id, customerId, toStatus: DeliveryStatus.DELIVERED });
      await watching; // the server ends the stream after DELIVERED

      // The first message carries the history so far; each later one is one change.
      const seen = [...messages[0].order!.history.map((h) => h.toStatus), ...messages.slice(1).map((m) => m.change!.toStatus)];
      expect(seen.map((s) => OrderStatus[s])).toEqual(["PENDING", "RESERVED", "CONFIRMED", "SHIPPED", "DELIVERED"]);
      for (const message of messages.slice(1)) expect(message.order?.status).toBe(message.change?.toStatus);
      expect(messages.at(-1)?.order?.cardLast4).toBe("1111");
      await waitFor(() => t.order.activeWatches() === 0, { message: "the watch to be released" });
    });

    it("sends one message and ends for an order that is already final", async () => {
      const { orderId } = await reservedOrder();
      await t.orders.cancelOrder({ orderId });
      const messages: WatchOrderResponse[] = [];
      for await (const message of t.orders.watchOrder({ orderId })) messages.push(message);
      expect(messages).toHaveLength(1);
      expect(messages[0].order?.status).toBe(OrderStatus.CANCELLED);
    });

    it("stops on the server when the client cancels", async () => {
      const { orderId } = await reservedOrder();
      for await (const message of t.orders.watchOrder({ orderId })) {
        expect(message.order?.status).toBe(OrderStatus.RESERVED);
        expect(t.order.activeWatches()).toBeGreaterThan(0);
        break; // cancels the call
      }
      await waitFor(() => t.order.activeWatches() === 0, { message: "the server to release the cancelled watch" });
      const controller = new AbortController();
      const aborted = (async () => {
        for await (const _ of t.orders.watchOrder({ orderId }, { signal: controller.signal })) controller.abort();
      })();
      await expectCode(aborted, Code.CANCELLED);
      await waitFor(() => t.order.activeWatches() === 0, { message: "the server to release the aborted watch" });
    });

    it("answers NOT_FOUND and INVALID_ARGUMENT", async () => {
      const drain = async (orderId: string) => {
        for await (const _ of t.orders.watchOrder({ orderId })) void _;
      };
      await expectCode(drain(uuidv7()), Code.NOT_FOUND);
      await expectCode(drain("nope"), Code.INVALID_ARGUMENT, /order_id/);
    });
  });

  describe("ListOrders and CreateOrders", () => {
    it("pages newest first without repeats and filters by customer and status", async () => {
      const customerId = await t.customer();
      const product = await t.product(50);
      const placed: string[] = [];
      for (let i = 0; i < 5; i++) placed.push((await t.place(customerId, [[product.id, 1]])).id);
      const seen: string[] = [];
      let pageToken = "";
      let pages = 0;
      do {
        const page = await t.orders.listOrders({ customerId, pageSize: 2, pageToken });
        expect(page.orders.length).toBeLessThanOrEqual(2);
        seen.push(...page.orders.map((o) => o.id));
        for (const o of page.orders) expect(o.items).toHaveLength(1);
        pageToken = page.nextPageToken;
        pages++;
      } while (pageToken);
      expect(pages).toBe(3);
      expect(seen).toEqual([...placed].reverse());

      await t.waitForStatus(placed[2], OrderStatus.RESERVED);
      await t.orders.cancelOrder({ orderId: placed[2] });
      const cancelled = await t.orders.listOrders({ customerId, status: OrderStatus.CANCELLED });
      expect(cancelled.orders.map((o) => o.id)).toEqual([placed[2]]);
      expect(cancelled.nextPageToken).toBe("");
      const everyone = await t.orders.listOrders({ pageSize: 100 });
      expect(everyone.orders.map((o) => o.id)).toEqual(expect.arrayContaining(placed));

      await expectCode(t.orders.listOrders({ pageToken: "garbage" }), Code.INVALID_ARGUMENT, /page_token/);
      await expectCode(t.orders.listOrders({ customerId: "x" }), Code.INVALID_ARGUMENT, /customer_id/);
      await expectCode(t.orders.listOrders({ status: 99 as OrderStatus }), Code.INVALID_ARGUMENT, /status/);
      await expectCode(t.orders.listOrders({ pageSize: -1 }), Code.INVALID_ARGUMENT, /page_size/);
    });

    it("places each order of a bulk request on its own and reports every one in input order", async () => {
      const customerId = await t.customer();
      const product = await t.product(10);
      const order = (productId: string, quantity: number) => ({
        customerId,
        items: [{ productId, quantity }],
        shippingAddress: ADDRESS,
        paymentMethod: { token: "tok_visa" },
      });
      const missing = uuidv7();
      const { results } = await t.orders.createOrders({
        orders: [order(product.id, 1), order(product.id, 0), order(missing, 1), order(product.id, 2)],
      });
      expect(results.map((r) => r.result.case)).toEqual(["order", "error", "error", "order"]);
      expect(results[1].result.value).toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringMatching(/^items\[0\].quantity/) });
      expect(results[2].result.value).toMatchObject({ code: Code.NOT_FOUND, message: expect.stringContaining(missing) });
      const placed = [results[0], results[3]].map((r) => r.result.value as Order);
      expect(placed.map((o) => o.total?.amountMinor)).toEqual([1999n, 3998n]);
      for (const o of placed) await t.waitForStatus(o.id, OrderStatus.RESERVED);

      await expectCode(t.orders.createOrders({ orders: [] }), Code.INVALID_ARGUMENT, /orders/);
      await expectCode(t.orders.createOrders({ orders: Array.from({ length: 101 }, () => order(product.id, 1)) }), Code.INVALID_ARGUMENT, /orders/);
    });
  });

  describe("consumers", () => {
    it("dead-letters events with an invalid order id at once", async () => {
      const eventId = await publishEvent(t.runtime.bus, PaymentCompletedSchema, { orderId: "not-a-uuid", paymentId: "p" });
      await waitFor(
        async () => {
          const info = await t.runtime.bus.jsm.streams.info(t.runtime.bus.names.dlqStream).catch(() => undefined);
          return (info?.state.messages ?? 0) > 0;
        },
        { message: `event ${eventId} in the dead-letter stream` },
      );
      const rows = await t.sql("SELECT 1 FROM processed_events WHERE event_id = ?", [eventId]);
      expect(rows).toHaveLength(0);
    });
  });

  // Last: stops the order service.
  describe("shutdown", () => {
    it("ends open WatchOrder streams with UNAVAILABLE instead of letting them hold up the drain", async () => {
      const { orderId } = await reservedOrder();
      const messages: WatchOrderResponse[] = [];
      const watching = (async () => {
        for await (const message of t.orders.watchOrder({ orderId })) messages.push(message);
      })();
      await waitFor(() => messages.length === 1, { message: "the first message" });
      const ended = expectCode(watching, Code.UNAVAILABLE, /shutting down/);
      const started = Date.now();
      await t.order.stop();
      // The drain grace is 10 s; an open stream would have used all of it.
      expect(Date.now() - started).toBeLessThan(5_000);
      await ended;
      expect(t.order.activeWatches()).toBe(0);
    });
  });
});
