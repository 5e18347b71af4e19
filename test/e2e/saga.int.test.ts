import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { DeliveryStatus } from "../../gen/shop/delivery/v1/delivery_pb.js";
import { NotificationStatus } from "../../gen/shop/notification/v1/notification_pb.js";
import { type Order, OrderStatus } from "../../gen/shop/order/v1/order_pb.js";
import { PaymentStatus } from "../../gen/shop/payment/v1/payment_pb.js";
import { type Mesh, startMesh } from "../../dev/mesh.js";
import { Code, ServiceError } from "../../lib/errors.js";
import { testInfra, uniqueId, waitFor } from "../harness/index.js";
import { type MeshClients, meshClients } from "./mesh-clients.js";

/**
 * The whole saga across the seven services, each a real child process, against real
 * PostgreSQL, NATS JetStream and S3.
 */

const SETTLED = new Set([
  OrderStatus.CONFIRMED,
  OrderStatus.REJECTED,
  OrderStatus.PAYMENT_FAILED,
  OrderStatus.CANCELLED,
  OrderStatus.EXPIRED,
  OrderStatus.SHIPPED,
  OrderStatus.DELIVERED,
  OrderStatus.DELIVERY_FAILED,
]);

const ADDRESS = { line1: "1 Main St", city: "Springfield", postalCode: "12345", countryCode: "US", recipientName: "Ada" };

describe("order saga end to end", () => {
  let mesh: Mesh;
  let api: MeshClients;
  let s3: S3Client;
  const logs: string[] = [];

  beforeAll(async () => {
    const infra = testInfra();
    mesh = await startMesh({
      databaseUrl: infra.databaseUrl,
      natsUrl: infra.natsUrl,
      s3Endpoint: infra.s3Endpoint,
      databasePrefix: `${uniqueId("e")}_`,
      eventsPrefix: uniqueId("e"),
      // 200 concurrent creates on a loaded 2-core CI machine can wait on inventory longer than the
      // 2 s production deadline; this suite is about the saga's correctness, not its latency.
      env: { LOG_LEVEL: "warn", NOTIFY_RETRY_BASE_MS: "100", INVENTORY_DEADLINE_MS: "15000" },
      onLog: (service, line) => {
        logs.push(`${service} ${line}`);
        if (logs.length > 500) logs.shift();
      },
    });
    api = meshClients(mesh);
    s3 = new S3Client({
      endpoint: infra.s3Endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
  }, 120_000);

  afterAll(async () => {
    api?.close();
    s3?.destroy();
    await mesh?.stop();
  }, 60_000);

  async function customer() {
    const { customer } = await api.order.createCustomer({ email: `${uniqueId("c")}@example.com`, name: "Ada Lovelace", phone: "+15555550123" });
    return customer!;
  }

  async function product(available: number, priceMinor = 1_000n) {
    const { product } = await api.inventory.createProduct({
      sku: uniqueId("sku-"),
      name: `Product ${available}`,
      price: { currencyCode: "USD", amountMinor: priceMinor },
      initialQuantity: available,
      lowStockThreshold: 1,
    });
    return product!;
  }

  async function placeOrder(customerId: string, items: { productId: string; quantity: number }[], token = "tok_visa") {
    const { order } = await api.order.createOrder({ customerId, items, shippingAddress: ADDRESS, paymentMethod: { token } });
    return order!;
  }

  async function waitForStatus(orderId: string, statuses: OrderStatus[], timeoutMs = 30_000): Promise<Order> {
    return waitFor(
      async () => {
        const { order } = await api.order.getOrder({ orderId });
        return order && statuses.includes(order.status) ? order : undefined;
      },
      { timeoutMs, message: `order ${orderId} to reach ${statuses.map((s) => OrderStatus[s]).join("|")}` },
    );
  }

  async function stockOf(productId: string) {
    const { product } = await api.inventory.getProduct({ productId });
    return product!;
  }

  it("takes an order to DELIVERED with an invoice in S3 and a notification per step", async () => {
    const buyer = await customer();
    const p = await product(10, 2_500n);
    const before = (await api.analytics.getDashboard({ window: "1h" })).dashboard!;
    const order = await placeOrder(buyer.id, [{ productId: p.id, quantity: 2 }]);
    expect(order.total).toMatchObject({ currencyCode: "USD", amountMinor: 5_000n });

    await waitForStatus(order.id, [OrderStatus.CONFIRMED]);
    const { file } = await waitFor(() => api.file.getInvoice({ orderId: order.id }).catch(() => undefined), { timeoutMs: 20_000, message: "invoice" });
    const object = await s3.send(new GetObjectCommand({ Bucket: "ordermesh", Key: file!.storageKey }));
    const bytes = Buffer.from(await object.Body!.transformToByteArray());
    expect(bytes.subarray(0, 4).toString()).toBe("%PDF");
    expect(bytes.length).toBe(Number(file!.sizeBytes));

    const { delivery } = await waitFor(() => api.delivery.getDeliveryByOrder({ orderId: order.id }).catch(() => undefined), { message: "delivery" });
    expect(delivery?.status).toBe(DeliveryStatus.PENDING);
    await api.delivery.updateDeliveryStatus({ deliveryId: delivery!.id, status: DeliveryStatus.IN_TRANSIT, notes: "picked up" });
    await waitForStatus(order.id, [OrderStatus.SHIPPED]);
    await api.delivery.updateDeliveryStatus({ deliveryId: delivery!.id, status: DeliveryStatus.DELIVERED, notes: "at the door" });
    const delivered = await waitForStatus(order.id, [OrderStatus.DELIVERED]);
    expect(delivered.history.map((h) => h.toStatus)).toEqual([
      OrderStatus.PENDING,
      OrderStatus.RESERVED,
      OrderStatus.CONFIRMED,
      OrderStatus.SHIPPED,
      OrderStatus.DELIVERED,
    ]);

    expect(await stockOf(p.id)).toMatchObject({ available: 8, reserved: 0, sold: 2 });
    const { payments } = await api.payment.listPayments({ orderId: order.id });
    expect(payments).toEqual([expect.objectContaining({ status: PaymentStatus.COMPLETED, cardLast4: "4242" })]);

    // created, confirmed, invoice ready, shipped, delivered: one e-mail each.
    await waitFor(
      async () => {
        const { notifications } = await api.notification.listNotifications({ orderId: order.id, pageSize: 100 });
        const sent = notifications.filter((n) => n.status === NotificationStatus.SENT && n.subject !== "");
        return new Set(sent.map((n) => n.eventId)).size >= 5;
      },
      { timeoutMs: 20_000, message: "an e-mail for each customer-visible step" },
    );

    // Analytics saw the whole saga: every step on the order's timeline, from the service that
    // published it, and the order counted once on the dashboard.
    const timeline = await waitFor(
      async () => {
        const t = await api.analytics.getOrderTimeline({ orderId: order.id });
        const names = new Set(t.entries.map((e) => e.name));
        return names.has("order.delivered") && names.has("file.invoice_generated") && names.has("notification.sent") ? t : undefined;
      },
      { timeoutMs: 30_000, message: "the timeline to show the delivery, the invoice and a notification" },
    );
    expect(timeline.status).toBe(OrderStatus.DELIVERED);
    const steps = timeline.entries.map((e) => `${e.service} ${e.name}`);
    expect(steps).toEqual(
      expect.arrayContaining([
        "order order.created",
        "inventory inventory.reserved",
        "payment payment.completed",
        "order order.confirmed",
        "file file.invoice_generated",
        "delivery delivery.created",
        "delivery delivery.status_changed",
        "order order.shipped",
        "order order.delivered",
        "notification notification.sent",
      ]),
    );
    expect(steps.indexOf("order order.created")).toBe(0);
    expect(steps.indexOf("order order.confirmed")).toBeLessThan(steps.indexOf("order order.delivered"));
    expect(new Set(timeline.entries.map((e) => e.eventId)).size).toBe(timeline.entries.length);

    const after = await waitFor(
      async () => {
        const { dashboard } = await api.analytics.getDashboard({ window: "1h" });
        return dashboard!.funnel!.delivered === before.funnel!.delivered + 1n ? dashboard! : undefined;
      },
      { timeoutMs: 30_000, message: "the dashboard to count the delivered order" },
    );
    expect(after.funnel).toMatchObject({
      created: before.funnel!.created + 1n,
      reserved: before.funnel!.reserved + 1n,
      paid: before.funnel!.paid + 1n,
    });
    expect(after.sagaLatency!.count).toBe(before.sagaLatency!.count + 1n);
    const captured = (d: typeof after) => d.revenue.find((r) => r.currencyCode === "USD")?.capturedMinor ?? 0n;
    expect(captured(after) - captured(before)).toBe(5_000n);
    expect(after.topProducts.find((t) => t.productId === p.id)).toMatchObject({ units: 2n, revenueMinor: 5_000n, name: p.name });
  }, 120_000);

  it("fails a declined card: PAYMENT_FAILED, reservation released, stock restored", async () => {
    const buyer = await customer();
    const p = await product(5);
    const order = await placeOrder(buyer.id, [{ productId: p.id, quantity: 3 }], "tok_declined");
    const failed = await waitForStatus(order.id, [OrderStatus.PAYMENT_FAILED]);
    expect(failed.failureReason).not.toBe("");
    await waitFor(async () => (await stockOf(p.id)).available === 5, { message: "stock restored" });
    expect(await stockOf(p.id)).toMatchObject({ reserved: 0, sold: 0 });
  }, 60_000);

  it("cancels after payment: refund recorded, stock restored, delivery cancelled", async () => {
    const buyer = await customer();
    const p = await product(5);
    const order = await placeOrder(buyer.id, [{ productId: p.id, quantity: 1 }]);
    await waitForStatus(order.id, [OrderStatus.CONFIRMED]);
    await waitFor(() => api.delivery.getDeliveryByOrder({ orderId: order.id }).catch(() => undefined), { message: "delivery created" });
    const { order: cancelled } = await api.order.cancelOrder({ orderId: order.id, reason: "changed my mind" });
    expect(cancelled?.status).toBe(OrderStatus.CANCELLED);

    await waitFor(async () => (await api.payment.listPayments({ orderId: order.id })).payments[0]?.status === PaymentStatus.REFUNDED, {
      message: "payment refunded",
    });
    const [payment] = (await api.payment.listPayments({ orderId: order.id })).payments;
    expect(payment.refundedAmount?.amountMinor).toBe(payment.amount?.amountMinor);
    await waitFor(async () => (await stockOf(p.id)).available === 5, { message: "stock restored" });
    await waitFor(async () => (await api.delivery.getDeliveryByOrder({ orderId: order.id })).delivery?.status === DeliveryStatus.CANCELLED, {
      message: "delivery cancelled",
    });
  }, 60_000);

  it("compensates a failed delivery: DELIVERY_FAILED, the charge refunded in full, the units back in stock", async () => {
    const buyer = await customer();
    const p = await product(5, 1_500n);
    const order = await placeOrder(buyer.id, [{ productId: p.id, quantity: 2 }]);
    await waitForStatus(order.id, [OrderStatus.CONFIRMED]);
    const { delivery } = await waitFor(() => api.delivery.getDeliveryByOrder({ orderId: order.id }).catch(() => undefined), { message: "delivery created" });
    await waitFor(async () => (await stockOf(p.id)).sold === 2, { message: "stock committed" });
    await api.delivery.updateDeliveryStatus({ deliveryId: delivery!.id, status: DeliveryStatus.IN_TRANSIT, notes: "picked up" });
    await waitForStatus(order.id, [OrderStatus.SHIPPED]);
    await api.delivery.updateDeliveryStatus({ deliveryId: delivery!.id, status: DeliveryStatus.FAILED, notes: "parcel returned to sender" });

    const failed = await waitForStatus(order.id, [OrderStatus.DELIVERY_FAILED]);
    expect(failed.history.map((h) => h.toStatus).slice(-2)).toEqual([OrderStatus.SHIPPED, OrderStatus.DELIVERY_FAILED]);
    await waitFor(async () => (await api.payment.listPayments({ orderId: order.id })).payments[0]?.status === PaymentStatus.REFUNDED, {
      message: "payment refunded",
    });
    const [payment] = (await api.payment.listPayments({ orderId: order.id })).payments;
    expect(payment.refundedAmount?.amountMinor).toBe(3_000n);
    await waitFor(async () => (await stockOf(p.id)).available === 5, { message: "units back in stock" });
    expect(await stockOf(p.id)).toMatchObject({ available: 5, reserved: 0, sold: 0 });
  }, 60_000);

  /** Checks the invariants of section 8 over a set of orders and products. */
  async function expectInvariants(orders: Order[], products: { id: string; initial: number }[]) {
    const final = await Promise.all(orders.map((o) => api.order.getOrder({ orderId: o.id }).then((r) => r.order!)));
    for (const o of final) expect(SETTLED.has(o.status)).toBe(true);

    for (const { id, initial } of products) {
      // Inventory commits or releases after the order settles (its own consumers): wait for it.
      const p = await waitFor(
        async () => {
          const current = await stockOf(id);
          return current.reserved === 0 ? current : undefined;
        },
        { timeoutMs: 30_000, message: `no stock left reserved for ${id}` },
      );
      expect(p.available + p.reserved + p.sold).toBe(initial);
    }

    let charged = 0n;
    let refunded = 0n;
    let confirmedTotal = 0n;
    for (const o of final) {
      const { payments } = await api.payment.listPayments({ orderId: o.id });
      expect(payments.filter((p) => p.status !== PaymentStatus.FAILED).length).toBeLessThanOrEqual(1);
      for (const p of payments) {
        if (p.status === PaymentStatus.FAILED) continue;
        charged += p.amount!.amountMinor;
        refunded += p.refundedAmount?.amountMinor ?? 0n;
      }
      if (o.status === OrderStatus.CONFIRMED) {
        confirmedTotal += o.total!.amountMinor;
        expect(payments.some((p) => p.status === PaymentStatus.COMPLETED)).toBe(true);
      }
    }
    expect(charged - refunded).toBe(confirmedTotal);
    return final;
  }

  it("settles 200 concurrent orders over mixed products, some short of stock, conserving stock and money", async () => {
    const buyers = await Promise.all(Array.from({ length: 10 }, customer));
    const products = await Promise.all([40, 40, 30, 15].map(async (initial, i) => ({ ...(await product(initial, BigInt(500 + i * 250))), initial })));
    // Once a product has sold out, CreateOrder refuses it at once (FAILED_PRECONDITION, no order).
    let soldOut = 0;
    const placed = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        placeOrder(
          buyers[i % buyers.length].id,
          [
            { productId: products[i % products.length].id, quantity: 1 + (i % 2) },
            ...(i % 5 === 0 ? [{ productId: products[(i + 1) % products.length].id, quantity: 1 }] : []),
          ],
          i % 17 === 0 ? "tok_declined" : "tok_visa",
        ).catch((error: unknown) => {
          if (error instanceof ServiceError && error.code === Code.FAILED_PRECONDITION && /is sold out/.test(error.message)) return void soldOut++;
          throw error;
        }),
      ),
    );
    const orders = placed.filter((o): o is Order => o !== undefined);
    await waitFor(
      async () => {
        const { orders: page } = await api.order.listOrders({ status: OrderStatus.PENDING, pageSize: 1 });
        const { orders: reserved } = await api.order.listOrders({ status: OrderStatus.RESERVED, pageSize: 1 });
        return page.length === 0 && reserved.length === 0;
      },
      { timeoutMs: 120_000, intervalMs: 250, message: "every order settled" },
    );
    const final = await expectInvariants(orders, products);
    const count = (s: OrderStatus) => final.filter((o) => o.status === s).length;
    expect(count(OrderStatus.CONFIRMED)).toBeGreaterThan(0);
    expect(count(OrderStatus.REJECTED) + soldOut).toBeGreaterThan(0);
    expect(count(OrderStatus.PAYMENT_FAILED)).toBeGreaterThan(0);
  }, 180_000);

  it("loses and duplicates nothing when the payment process is SIGKILLed mid-batch", async () => {
    const buyer = await customer();
    const products = await Promise.all([30, 30].map(async (initial) => ({ ...(await product(initial)), initial })));
    const orders: Order[] = [];
    for (let i = 0; i < 40; i++) {
      orders.push(await placeOrder(buyer.id, [{ productId: products[i % 2].id, quantity: 1 }]));
      if (i === 15) await mesh.kill("payment");
    }
    await mesh.restart("payment");
    await Promise.all(orders.map((o) => waitForStatus(o.id, [...SETTLED], 90_000)));
    const final = await expectInvariants(orders, products);
    expect(final.every((o) => o.status === OrderStatus.CONFIRMED)).toBe(true);
  }, 180_000);
});
