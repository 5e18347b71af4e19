import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { DeliveryService, DeliveryStatus } from "../../gen/shop/delivery/v1/delivery_pb.js";
import { DeliveryCreatedSchema, DeliveryStatusChangedSchema } from "../../gen/shop/events/v1/delivery_events_pb.js";
import { OrderCancelledSchema, OrderConfirmedSchema } from "../../gen/shop/events/v1/order_events_pb.js";
import { Code } from "../../lib/errors.js";
import { createClient, type GrpcClient } from "../../lib/grpc/index.js";
import { uuidv7 } from "../../lib/ids.js";
import type { RunningService } from "../../lib/runtime/index.js";
import { EventLog, publishEvent } from "../../test/harness/event-log.js";
import { waitFor } from "../../test/harness/index.js";
import { createTestRuntime, type TestRuntime } from "../../test/harness/runtime.js";
import { runTransaction, sql } from "../../lib/db/index.js";
import * as store from "./delivery-store.js";
import { start } from "./service.js";
import { expectCode } from "../../test/harness/expect-code.js";

const ADDRESS = {
  line1: "Hauptstr. 1",
  line2: "",
  city: "Berlin",
  region: "",
  postalCode: "10115",
  countryCode: "DE",
  recipientName: "Jane Doe",
  phone: "+4930123456",
};

describe("delivery service", () => {
  let runtime: TestRuntime;
  let service: RunningService;
  let client: GrpcClient<typeof DeliveryService>;
  let log: EventLog;

  beforeAll(async () => {
    runtime = await createTestRuntime();
    service = await start(await runtime.config("delivery"), { logger: runtime.logger });
    client = createClient(DeliveryService, `127.0.0.1:${service.grpcPort}`, { name: "delivery", deadlineMs: 10_000 });
    log = new EventLog(runtime.bus);
  });

  afterAll(async () => {
    client?.close();
    await service?.stop();
    await runtime?.cleanup();
  });

  function confirmed(orderId: string, customerId = uuidv7()) {
    return { orderId, customerId, shippingAddress: ADDRESS, total: { currencyCode: "EUR", amountMinor: 1999n }, paymentId: uuidv7() };
  }

  /** Publishes order.confirmed and waits for the delivery it creates. */
  async function confirmedDelivery(orderId = uuidv7()) {
    await publishEvent(runtime.bus, OrderConfirmedSchema, confirmed(orderId));
    await log.expectEvent(DeliveryCreatedSchema, orderId);
    return (await client.getDeliveryByOrder({ orderId })).delivery!;
  }

  /** Waits until every earlier event was handled: a marker order's delivery exists. */
  async function drain(): Promise<void> {
    const marker = uuidv7();
    await publishEvent(runtime.bus, OrderConfirmedSchema, confirmed(marker));
    await log.expectEvent(DeliveryCreatedSchema, marker);
  }

  async function logRows(deliveryId: string): Promise<{ status: string; notes: string }[]> {
    return service.orm.em.getConnection().execute("SELECT status, notes FROM delivery_logs WHERE delivery_id = ? ORDER BY at, id", [deliveryId]);
  }

  describe("saga", () => {
    it("creates a PENDING delivery with the shipping address on order.confirmed", async () => {
      const orderId = uuidv7();
      const event = confirmed(orderId);
      await publishEvent(runtime.bus, OrderConfirmedSchema, event);
      const created = await log.expectEvent(DeliveryCreatedSchema, orderId);
      expect(created.customerId).toBe(event.customerId);
      const { delivery } = await client.getDeliveryByOrder({ orderId });
      expect(delivery).toMatchObject({
        id: created.deliveryId,
        orderId,
        customerId: event.customerId,
        status: DeliveryStatus.PENDING,
        address: ADDRESS,
        carrier: "",
        trackingNumber: "",
      });
      expect(delivery!.logs.map((l) => l.status)).toEqual([DeliveryStatus.PENDING]);
      expect((await client.getDelivery({ deliveryId: created.deliveryId })).delivery?.orderId).toBe(orderId);
    });

    it("creates one delivery when order.confirmed is delivered twice or confirmed again", async () => {
      const orderId = uuidv7();
      const eventId = uuidv7();
      await publishEvent(runtime.bus, OrderConfirmedSchema, confirmed(orderId), eventId);
      await log.expectEvent(DeliveryCreatedSchema, orderId);
      // The same event under another message id (a redelivery), and another event for the order.
      await publishEvent(runtime.bus, OrderConfirmedSchema, confirmed(orderId), eventId, uuidv7());
      await publishEvent(runtime.bus, OrderConfirmedSchema, confirmed(orderId));
      await drain();
      expect(await log.events(DeliveryCreatedSchema, orderId)).toHaveLength(1);
      const [{ count }] = await service.orm.em.getConnection().execute("SELECT count(*)::int AS count FROM deliveries WHERE order_id = ?", [orderId]);
      expect(count).toBe(1);
      // The create and its log entry are one statement: the inserts that lost on order_id logged nothing.
      const { delivery } = await client.getDeliveryByOrder({ orderId });
      expect(await logRows(delivery!.id)).toEqual([{ status: "PENDING", notes: "delivery created" }]);
    });

    it("cancels a PENDING delivery on order.cancelled", async () => {
      const delivery = await confirmedDelivery();
      await publishEvent(runtime.bus, OrderCancelledSchema, { orderId: delivery.orderId, customerId: delivery.customerId, reason: "changed my mind" });
      const changed = await log.expectEvent(DeliveryStatusChangedSchema, delivery.orderId);
      expect(changed).toMatchObject({
        deliveryId: delivery.id,
        fromStatus: DeliveryStatus.PENDING,
        toStatus: DeliveryStatus.CANCELLED,
        notes: "order cancelled: changed my mind",
      });
      const { delivery: after } = await client.getDelivery({ deliveryId: delivery.id });
      expect(after?.status).toBe(DeliveryStatus.CANCELLED);
      expect(after?.logs.map((l) => l.status)).toEqual([DeliveryStatus.PENDING, DeliveryStatus.CANCELLED]);
    });

    it("stores event text that held a NUL, repaired: the address of order.confirmed, the reason of order.cancelled", async () => {
      const orderId = uuidv7();
      await publishEvent(runtime.bus, OrderConfirmedSchema, { ...confirmed(orderId), shippingAddress: { ...ADDRESS, line2: "Hinterhaus\u0000links" } });
      await log.expectEvent(DeliveryCreatedSchema, orderId);
      const { delivery } = await client.getDeliveryByOrder({ orderId });
      expect(delivery?.address?.line2).toBe("Hinterhaus\ufffdlinks");
      // 501 code units: the cut to 500 must not leave half of the emoji.
      await publishEvent(runtime.bus, OrderCancelledSchema, { orderId, reason: `\u0000${"r".repeat(498)}😀` });
      const notes = `order cancelled: \ufffd${"r".repeat(498)}`;
      expect(await log.expectEvent(DeliveryStatusChangedSchema, orderId)).toMatchObject({ toStatus: DeliveryStatus.CANCELLED, notes });
      expect(await logRows(delivery!.id)).toEqual([
        { status: "PENDING", notes: "delivery created" },
        { status: "CANCELLED", notes },
      ]);
    });

    it("leaves a delivery that has shipped alone on order.cancelled", async () => {
      const delivery = await confirmedDelivery();
      await client.updateDeliveryStatus({ deliveryId: delivery.id, status: DeliveryStatus.IN_TRANSIT });
      await publishEvent(runtime.bus, OrderCancelledSchema, { orderId: delivery.orderId, reason: "too late" });
      await drain();
      const { delivery: after } = await client.getDelivery({ deliveryId: delivery.id });
      expect(after?.status).toBe(DeliveryStatus.IN_TRANSIT);
      const changes = await log.events(DeliveryStatusChangedSchema, delivery.orderId);
      expect(changes.map((c) => c.toStatus)).toEqual([DeliveryStatus.IN_TRANSIT]);
    });

    it("creates no delivery for an order cancelled before its order.confirmed arrived", async () => {
      const orderId = uuidv7();
      await publishEvent(runtime.bus, OrderCancelledSchema, { orderId, reason: "fast cancel" });
      await waitFor(async () => (await client.getDeliveryByOrder({ orderId }).catch(() => undefined))?.delivery, { message: "tombstone" });
      await publishEvent(runtime.bus, OrderConfirmedSchema, confirmed(orderId));
      await drain();
      expect(await log.events(DeliveryCreatedSchema, orderId)).toHaveLength(0);
      expect(await log.events(DeliveryStatusChangedSchema, orderId)).toHaveLength(0);
      const { delivery } = await client.getDeliveryByOrder({ orderId });
      expect(delivery?.status).toBe(DeliveryStatus.CANCELLED);
      expect(delivery?.address).toBeUndefined();
      expect(await logRows(delivery!.id)).toEqual([{ status: "CANCELLED", notes: "order cancelled: fast cancel (before the delivery was created)" }]);
      await expectCode(client.createDelivery({ orderId, customerId: uuidv7(), address: ADDRESS }), Code.ALREADY_EXISTS);
    });
  });

  describe("consumer batches", () => {
    it("inserts a batch's deliveries, with their first log entries, at the commit", async () => {
      const orders = Array.from({ length: 5 }, () => uuidv7());
      let visible = -1;
      const outcomes = await runTransaction(service.orm, async (em) => {
        store.deferDeliveries(em);
        const created = [];
        for (const orderId of orders) created.push(await store.createDelivery(em, { orderId, customerId: "c", address: ADDRESS }));
        // Not even this transaction sees them yet: the inserts wait for its commit.
        visible = (await sql<{ n: number }>(em, "SELECT count(*)::int AS n FROM deliveries WHERE order_id = ANY(?::uuid[])", [orders]))[0].n;
        return created;
      });
      expect(visible).toBe(0);
      expect(outcomes.map((o) => o.kind)).toEqual(orders.map(() => "queued"));
      for (const [i, orderId] of orders.entries()) {
        const { delivery } = await client.getDeliveryByOrder({ orderId });
        expect(delivery).toMatchObject({ id: outcomes[i].delivery.id, status: DeliveryStatus.PENDING, address: ADDRESS });
        expect(await logRows(delivery!.id)).toEqual([{ status: "PENDING", notes: "delivery created" }]);
      }
    });

    it("fails the commit of a batch whose order got a delivery meanwhile, writing none of it", async () => {
      const [raced, other] = [uuidv7(), uuidv7()];
      const batch = runTransaction(service.orm, async (em) => {
        store.deferDeliveries(em);
        await store.createDelivery(em, { orderId: other, customerId: "c", address: ADDRESS });
        await store.createDelivery(em, { orderId: raced, customerId: "c", address: ADDRESS });
        // The order is cancelled meanwhile: its tombstone is committed before the batch's insert.
        const cancelled = await runTransaction(service.orm, (em2) => store.cancelForOrder(em2, { orderId: raced, customerId: "c" }, "order cancelled"));
        expect(cancelled.kind).toBe("tombstone");
      });
      await expect(batch).rejects.toThrow(`order ${raced} already has a delivery`);
      await expectCode(client.getDeliveryByOrder({ orderId: other }), Code.NOT_FOUND);
      // Applied one at a time, as the consumer then does, each finds the rows as they are.
      const alone = (orderId: string) => runTransaction(service.orm, (em) => store.createDelivery(em, { orderId, customerId: "c", address: ADDRESS }));
      expect((await alone(other)).kind).toBe("created");
      expect(await alone(raced)).toMatchObject({ kind: "existing", delivery: { status: "CANCELLED" } });
    });
  });

  describe("UpdateDeliveryStatus", () => {
    it("moves PENDING -> IN_TRANSIT -> DELIVERED, logging and publishing every change", async () => {
      const delivery = await confirmedDelivery();
      const { delivery: shipped } = await client.updateDeliveryStatus({
        deliveryId: delivery.id,
        status: DeliveryStatus.IN_TRANSIT,
        notes: "left the depot",
        carrier: "DHL",
        trackingNumber: "JD0001",
      });
      expect(shipped).toMatchObject({ status: DeliveryStatus.IN_TRANSIT, carrier: "DHL", trackingNumber: "JD0001" });
      const { delivery: delivered } = await client.updateDeliveryStatus({ deliveryId: delivery.id, status: DeliveryStatus.DELIVERED, notes: "handed over" });
      expect(delivered).toMatchObject({ status: DeliveryStatus.DELIVERED, carrier: "DHL", trackingNumber: "JD0001" });
      expect(delivered!.logs.map((l) => [l.status, l.notes])).toEqual([
        [DeliveryStatus.PENDING, "delivery created"],
        [DeliveryStatus.IN_TRANSIT, "left the depot"],
        [DeliveryStatus.DELIVERED, "handed over"],
      ]);
      expect(await logRows(delivery.id)).toEqual([
        { status: "PENDING", notes: "delivery created" },
        { status: "IN_TRANSIT", notes: "left the depot" },
        { status: "DELIVERED", notes: "handed over" },
      ]);
      const changes = await waitFor(
        async () => {
          const events = await log.events(DeliveryStatusChangedSchema, delivery.orderId);
          return events.length === 2 && events;
        },
        { message: "two status changes" },
      );
      expect(changes).toEqual([
        expect.objectContaining({
          deliveryId: delivery.id,
          customerId: delivery.customerId,
          fromStatus: DeliveryStatus.PENDING,
          toStatus: DeliveryStatus.IN_TRANSIT,
          carrier: "DHL",
          trackingNumber: "JD0001",
          notes: "left the depot",
        }),
        expect.objectContaining({ fromStatus: DeliveryStatus.IN_TRANSIT, toStatus: DeliveryStatus.DELIVERED, notes: "handed over" }),
      ]);
    });

    it("refuses transitions the state machine does not allow, naming both statuses", async () => {
      const delivery = await confirmedDelivery();
      await expectCode(
        client.updateDeliveryStatus({ deliveryId: delivery.id, status: DeliveryStatus.DELIVERED }),
        Code.FAILED_PRECONDITION,
        /from PENDING to DELIVERED/,
      );
      await client.updateDeliveryStatus({ deliveryId: delivery.id, status: DeliveryStatus.FAILED, notes: "address does not exist" });
      await expectCode(
        client.updateDeliveryStatus({ deliveryId: delivery.id, status: DeliveryStatus.IN_TRANSIT }),
        Code.FAILED_PRECONDITION,
        /from FAILED to IN_TRANSIT: FAILED is final/,
      );
      expect((await logRows(delivery.id)).map((r) => r.status)).toEqual(["PENDING", "FAILED"]);
    });

    it("treats the current status as a no-op that may still set carrier and tracking number", async () => {
      const delivery = await confirmedDelivery();
      await client.updateDeliveryStatus({ deliveryId: delivery.id, status: DeliveryStatus.IN_TRANSIT });
      const { delivery: same } = await client.updateDeliveryStatus({
        deliveryId: delivery.id,
        status: DeliveryStatus.IN_TRANSIT,
        carrier: "UPS",
        trackingNumber: "1Z999",
      });
      expect(same).toMatchObject({ status: DeliveryStatus.IN_TRANSIT, carrier: "UPS", trackingNumber: "1Z999" });
      expect(same!.logs).toHaveLength(2);
      await drain();
      expect(await log.events(DeliveryStatusChangedSchema, delivery.orderId)).toHaveLength(1);
    });

    it("answers bad input with INVALID_ARGUMENT and unknown deliveries with NOT_FOUND", async () => {
      await expectCode(client.updateDeliveryStatus({ deliveryId: uuidv7(), status: DeliveryStatus.UNSPECIFIED }), Code.INVALID_ARGUMENT, /status/);
      await expectCode(client.updateDeliveryStatus({ deliveryId: "nope", status: DeliveryStatus.IN_TRANSIT }), Code.INVALID_ARGUMENT, /delivery_id/);
      await expectCode(client.updateDeliveryStatus({ deliveryId: uuidv7(), status: DeliveryStatus.IN_TRANSIT }), Code.NOT_FOUND);
      await expectCode(client.getDelivery({ deliveryId: uuidv7() }), Code.NOT_FOUND);
      await expectCode(client.getDeliveryByOrder({ orderId: uuidv7() }), Code.NOT_FOUND, /delivery for order/);
    });
  });

  describe("CreateDelivery and ListDeliveries", () => {
    it("creates a delivery directly, once per order", async () => {
      const orderId = uuidv7();
      const customerId = uuidv7();
      const { delivery } = await client.createDelivery({ orderId, customerId, address: ADDRESS });
      expect(delivery).toMatchObject({ orderId, customerId, status: DeliveryStatus.PENDING, address: ADDRESS });
      expect((await log.expectEvent(DeliveryCreatedSchema, orderId)).deliveryId).toBe(delivery!.id);
      await expectCode(client.createDelivery({ orderId, customerId, address: ADDRESS }), Code.ALREADY_EXISTS, /already has a delivery/);
    });

    it("validates the request, naming the field", async () => {
      const ok = { orderId: uuidv7(), customerId: uuidv7(), address: ADDRESS };
      await expectCode(client.createDelivery({ ...ok, orderId: "" }), Code.INVALID_ARGUMENT, /order_id/);
      await expectCode(client.createDelivery({ ...ok, customerId: "x" }), Code.INVALID_ARGUMENT, /customer_id/);
      await expectCode(client.createDelivery({ ...ok, address: undefined }), Code.INVALID_ARGUMENT, /address: is required/);
      await expectCode(client.createDelivery({ ...ok, address: { ...ADDRESS, countryCode: "de" } }), Code.INVALID_ARGUMENT, /address.country_code/);
      await expectCode(client.createDelivery({ ...ok, address: { ...ADDRESS, line1: " " } }), Code.INVALID_ARGUMENT, /address.line1/);
      await expectCode(client.createDelivery({ ...ok, address: { ...ADDRESS, recipientName: "" } }), Code.INVALID_ARGUMENT, /address.recipient_name/);
      await expectCode(client.listDeliveries({ pageToken: "garbage" }), Code.INVALID_ARGUMENT, /page_token/);
      await expectCode(client.listDeliveries({ customerId: "garbage" }), Code.INVALID_ARGUMENT, /customer_id/);
    });

    it("lists deliveries newest first, by customer, order and status, page by page", async () => {
      const customerId = uuidv7();
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const { delivery } = await client.createDelivery({ orderId: uuidv7(), customerId, address: ADDRESS });
        ids.push(delivery!.id);
      }
      await client.updateDeliveryStatus({ deliveryId: ids[1], status: DeliveryStatus.IN_TRANSIT });
      const seen: string[] = [];
      let pageToken = "";
      do {
        const page = await client.listDeliveries({ customerId, pageSize: 2, pageToken });
        expect(page.deliveries.length).toBeLessThanOrEqual(2);
        seen.push(...page.deliveries.map((d) => d.id));
        pageToken = page.nextPageToken;
      } while (pageToken);
      expect(seen).toEqual([...ids].reverse());
      const inTransit = await client.listDeliveries({ customerId, status: DeliveryStatus.IN_TRANSIT });
      expect(inTransit.deliveries.map((d) => d.id)).toEqual([ids[1]]);
      expect(inTransit.deliveries[0].logs).toHaveLength(2);
      const { delivery } = await client.getDelivery({ deliveryId: ids[3] });
      const byOrder = await client.listDeliveries({ orderId: delivery!.orderId });
      expect(byOrder.deliveries.map((d) => d.id)).toEqual([ids[3]]);
    });
  });
});
