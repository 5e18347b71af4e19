import { randomBytes } from "node:crypto";
import { create, type DescMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { DeliveryStatus } from "../../gen/shop/delivery/v1/delivery_pb.js";
import { DeliveryStatusChangedSchema } from "../../gen/shop/events/v1/delivery_events_pb.js";
import { NotificationFailedSchema, NotificationSentSchema } from "../../gen/shop/events/v1/notification_events_pb.js";
import { OrderCancelledSchema, OrderConfirmedSchema, OrderCreatedSchema, OrderShippedSchema } from "../../gen/shop/events/v1/order_events_pb.js";
import { Channel, type Notification, NotificationService, NotificationStatus } from "../../gen/shop/notification/v1/notification_pb.js";
import { sql } from "../../lib/db/index.js";
import { Code } from "../../lib/errors.js";
import { eventSubject } from "../../lib/events/index.js";
import { createClient, type GrpcClient } from "../../lib/grpc/index.js";
import { uuidv7 } from "../../lib/ids.js";
import type { RunningService } from "../../lib/runtime/index.js";
import { setupTelemetry } from "../../lib/telemetry/index.js";
import { EventLog, publishEvent } from "../../test/harness/event-log.js";
import { waitFor } from "../../test/harness/index.js";
import { createTestRuntime, type TestRuntime } from "../../test/harness/runtime.js";
import { permanentFailure, transientFailure } from "./providers/provider.js";
import * as store from "./notification-store.js";
import { start } from "./service.js";
import { expectCode } from "../../test/harness/expect-code.js";

const SETTINGS = { latencyMs: 0, failureRate: 0, maxAttempts: 4, retryBaseMs: 50, pollMs: 50, sendTimeoutMs: 2_000 };

describe("notification service", () => {
  let runtime: TestRuntime;
  let service: RunningService;
  let client: GrpcClient<typeof NotificationService>;
  let log: EventLog;

  beforeAll(async () => {
    runtime = await createTestRuntime();
    const config = await runtime.config("notification");
    // A breaker that never opens here: the fault-injection recipients would otherwise trip it.
    service = await start({ ...config, ...SETTINGS, breaker: { volumeThreshold: 1_000_000 } }, { logger: runtime.logger, inMemoryTelemetry: true });
    client = createClient(NotificationService, `127.0.0.1:${service.grpcPort}`, { name: "notification", deadlineMs: 10_000 });
    log = new EventLog(runtime.bus);
  });

  afterAll(async () => {
    client?.close();
    await service?.stop();
    await runtime?.cleanup();
  });

  function created(orderId: string, contact: { email?: string; phone?: string } = {}, customerId = uuidv7()) {
    return {
      orderId,
      customerId,
      total: { currencyCode: "EUR", amountMinor: 1999n },
      customerEmail: contact.email ?? "jane@example.com",
      customerPhone: contact.phone ?? "+49 30 1234567",
      customerName: "Jane",
    };
  }

  /** Publishes an event as the relay does, with a W3C traceparent header. */
  async function publishTraced<Desc extends DescMessage>(schema: Desc, message: MessageInitShape<Desc>, traceParent: string): Promise<void> {
    const h = natsHeaders();
    const eventId = uuidv7();
    h.set("event-id", eventId);
    h.set("event-type", schema.typeName);
    h.set("traceparent", traceParent);
    await runtime.bus.js.publish(eventSubject(runtime.bus.names, schema), toBinary(schema, create(schema, message)), { msgID: eventId, headers: h });
  }

  async function byOrder(orderId: string): Promise<Notification[]> {
    return (await client.listNotifications({ orderId, pageSize: 100 })).notifications;
  }

  /** Waits until the order has `count` notifications, none of them PENDING. */
  async function settled(orderId: string, count: number): Promise<Notification[]> {
    return waitFor(
      async () => {
        const rows = await byOrder(orderId);
        return rows.length === count && rows.every((n) => n.status !== NotificationStatus.PENDING) && rows;
      },
      { message: `${count} settled notifications for order ${orderId}` },
    );
  }

  async function eventsOf<T>(schema: Parameters<EventLog["events"]>[0], orderId: string, count: number) {
    return waitFor(
      async () => {
        const events = await log.events(schema, orderId);
        return events.length >= count && (events as T[]);
      },
      { message: `${count} ${schema.typeName} for ${orderId}` },
    );
  }

  describe("saga messages", () => {
    it("sends e-mail and SMS for order.created and order.confirmed, one attempt each", async () => {
      const orderId = uuidv7();
      const event = created(orderId);
      await publishEvent(runtime.bus, OrderCreatedSchema, event);
      await publishEvent(runtime.bus, OrderConfirmedSchema, { orderId, customerId: event.customerId, total: { currencyCode: "EUR", amountMinor: 1999n } });
      const rows = await settled(orderId, 4);
      for (const row of rows) {
        expect(row).toMatchObject({ status: NotificationStatus.SENT, attempts: 1, lastError: "", customerId: event.customerId });
        expect(row.eventId).not.toBe("");
        expect(row.sentAt).toBeDefined();
      }
      const emails = rows.filter((n) => n.channel === Channel.EMAIL);
      expect(emails.map((n) => n.recipient)).toEqual(["jane@example.com", "jane@example.com"]);
      expect(emails.map((n) => n.subject).sort()).toEqual(
        [`We received your order #${orderId.slice(-8).toUpperCase()}`, `Your order #${orderId.slice(-8).toUpperCase()} is confirmed`].sort(),
      );
      expect(emails.every((n) => n.body.includes("Total: 19.99 EUR") && n.body.startsWith("Hello Jane,"))).toBe(true);
      const sms = rows.filter((n) => n.channel === Channel.SMS);
      expect(sms.map((n) => [n.recipient, n.subject])).toEqual([
        ["+49301234567", ""],
        ["+49301234567", ""],
      ]);
      const sent = await eventsOf<{ notificationId: string; channel: string }>(NotificationSentSchema, orderId, 4);
      expect(sent.map((e) => e.notificationId).sort()).toEqual(rows.map((n) => n.id).sort());
      expect(sent.map((e) => e.channel).sort()).toEqual(["EMAIL", "EMAIL", "SMS", "SMS"]);
    });

    it("retries a transiently failing recipient with backoff until it is accepted, or gives up after the last attempt", async () => {
      const orderId = uuidv7();
      // flaky.example fails twice then accepts; numbers ending in 99990 always fail transiently.
      // As the relay publishes it: with the trace context of the order's saga.
      const saga = { traceId: randomBytes(16).toString("hex"), spanId: randomBytes(8).toString("hex") };
      await publishTraced(OrderCreatedSchema, created(orderId, { email: "jane@flaky.example", phone: "+4930199990" }), `00-${saga.traceId}-${saga.spanId}-01`);
      const rows = await settled(orderId, 2);
      const email = rows.find((n) => n.channel === Channel.EMAIL)!;
      expect(email).toMatchObject({ status: NotificationStatus.SENT, attempts: 3 });
      expect(email.lastError).toMatch(/temporarily unavailable/);
      const sms = rows.find((n) => n.channel === Channel.SMS)!;
      expect(sms).toMatchObject({ status: NotificationStatus.FAILED, attempts: 4 });
      expect(sms.lastError).toMatch(/SMS gateway: temporarily unavailable/);
      expect(sms.sentAt).toBeUndefined();
      // Backoff: 50 + 100 + 200 ms at least between the first and the last attempt.
      const [failed] = await eventsOf<{ notificationId: string; attempts: number; error: string; channel: string }>(NotificationFailedSchema, orderId, 1);
      expect(failed).toMatchObject({ notificationId: sms.id, attempts: 4, channel: "SMS" });
      expect(failed.error).toMatch(/temporarily unavailable/);
      const [sent] = await eventsOf<{ notificationId: string }>(NotificationSentSchema, orderId, 1);
      expect(sent.notificationId).toBe(email.id);
      const [{ elapsed }] = await service.orm.em
        .getConnection()
        .execute("SELECT extract(epoch from (updated_at - created_at)) * 1000 AS elapsed FROM notification_log WHERE id = ?", [sms.id]);
      expect(Number(elapsed)).toBeGreaterThanOrEqual(350);

      // The first attempt continues the trace of the event that queued it; each retry is timer
      // work in a trace of its own, linked to that one. Recipients stay out of the spans.
      const spans = setupTelemetry({ serviceName: "notification" })
        .memory!.getFinishedSpans()
        .filter((span) => span.attributes["shop.notification.id"] === email.id)
        .sort((a, b) => Number(a.attributes["shop.notification.attempt"]) - Number(b.attributes["shop.notification.attempt"]));
      expect(spans.map((span) => [span.name, span.attributes["shop.notification.attempt"], span.attributes["shop.notification.outcome"]])).toEqual([
        ["notify email", 1, "retry"],
        ["notify email", 2, "retry"],
        ["notify email", 3, "sent"],
      ]);
      const [first, ...retries] = spans;
      expect(first.spanContext().traceId).toBe(saga.traceId);
      expect(first.parentSpanContext?.spanId).toBe(saga.spanId);
      expect(first.attributes["shop.order.id"]).toBe(orderId);
      for (const retry of retries) {
        expect(retry.parentSpanContext).toBeUndefined();
        expect(retry.spanContext().traceId).not.toBe(first.spanContext().traceId);
        expect(retry.links.map((link) => link.context.traceId)).toEqual([first.spanContext().traceId]);
        expect(retry.attributes["shop.order.id"]).toBe(orderId);
      }
      expect(JSON.stringify(spans.map((span) => span.attributes))).not.toMatch(/flaky\.example/);
    });

    it("gives up a permanently refused recipient after one attempt", async () => {
      const orderId = uuidv7();
      await publishEvent(runtime.bus, OrderCreatedSchema, created(orderId, { email: "nobody@bounce.example", phone: "" }));
      const [row] = await settled(orderId, 1);
      expect(row).toMatchObject({ channel: Channel.EMAIL, status: NotificationStatus.FAILED, attempts: 1 });
      expect(row.lastError).toMatch(/mailbox n\*\*\*@bounce.example does not exist/);
    });

    it("queues a redelivered event only once", async () => {
      const orderId = uuidv7();
      const event = created(orderId);
      await publishEvent(runtime.bus, OrderCreatedSchema, event);
      await settled(orderId, 2);
      const eventId = uuidv7();
      const cancelled = { orderId, customerId: event.customerId, reason: "changed my mind", wasCharged: true };
      await publishEvent(runtime.bus, OrderCancelledSchema, cancelled, eventId);
      await settled(orderId, 4);
      // The same event again, past the stream's de-duplication, then a marker event after it.
      await publishEvent(runtime.bus, OrderCancelledSchema, cancelled, eventId, uuidv7());
      await publishEvent(runtime.bus, OrderShippedSchema, { orderId, customerId: event.customerId, carrier: "DHL", trackingNumber: "JD01" });
      const rows = await settled(orderId, 6);
      const bySubject = rows.filter((n) => n.channel === Channel.EMAIL).map((n) => n.subject.replace(/#\w+/, "#"));
      expect(bySubject.sort()).toEqual(["We received your order #", "Your order # has shipped", "Your order # was cancelled"]);
      const cancelEmail = rows.find((n) => n.channel === Channel.EMAIL && n.subject.endsWith("was cancelled"))!;
      expect(cancelEmail.body).toContain("Reason: changed my mind");
      expect(cancelEmail.body).toContain("The amount charged (19.99 EUR) will be refunded.");
      expect(rows.find((n) => n.channel === Channel.SMS && n.body.includes("shipped"))!.body).toContain("with DHL, tracking JD01");
      const [{ count }] = await service.orm.em.getConnection().execute("SELECT count(*)::int AS count FROM notification_log WHERE event_id = ?", [eventId]);
      expect(count).toBe(2);
    });

    it("keeps messages whose event overtook order.created and queues them when it arrives, without retrying", async () => {
      const orderId = uuidv7();
      const event = created(orderId, { phone: "" });
      const sql = (query: string, params: unknown[]) => service.orm.em.getConnection().execute(query, params);
      const handled = (consumer: string, eventId: string) =>
        waitFor(async () => (await sql("SELECT 1 FROM processed_events WHERE consumer = ? AND event_id = ?", [consumer, eventId])).length === 1, {
          message: `${consumer} to handle ${eventId}`,
        });
      const confirmed = await publishEvent(runtime.bus, OrderConfirmedSchema, { orderId, customerId: event.customerId });
      const cancelled = await publishEvent(runtime.bus, OrderCancelledSchema, { orderId, customerId: event.customerId, reason: "too slow", wasCharged: true });
      await handled("notification-events", confirmed);
      await handled("notification-events", cancelled);
      // Handled on the first delivery: the dependency is recorded, not retried into the DLQ.
      expect((await runtime.bus.jsm.consumers.info(runtime.bus.names.stream, "notification-events")).num_redelivered).toBe(0);
      expect(await sql("SELECT template FROM pending_notifications WHERE order_id = ? ORDER BY event_id", [orderId])).toEqual([
        { template: "order_confirmed" },
        { template: "order_cancelled" },
      ]);
      expect(await byOrder(orderId)).toHaveLength(0);

      await publishEvent(runtime.bus, OrderCreatedSchema, event);
      const rows = await settled(orderId, 3);
      expect(rows.map((n) => n.channel)).toEqual([Channel.EMAIL, Channel.EMAIL, Channel.EMAIL]);
      expect(rows.map((n) => n.eventId).sort()).toEqual(expect.arrayContaining([confirmed, cancelled].sort()));
      const cancelEmail = rows.find((n) => n.eventId === cancelled)!;
      expect(cancelEmail.subject).toMatch(/was cancelled$/);
      expect(cancelEmail.body).toContain("Reason: too slow");
      expect(await sql("SELECT 1 FROM pending_notifications WHERE order_id = ?", [orderId])).toHaveLength(0);
    });

    it("announces a failed delivery, and no other delivery change", async () => {
      const orderId = uuidv7();
      const event = created(orderId, { phone: "" });
      await publishEvent(runtime.bus, OrderCreatedSchema, event);
      await settled(orderId, 1);
      const change = { orderId, customerId: event.customerId, deliveryId: uuidv7() };
      await publishEvent(runtime.bus, DeliveryStatusChangedSchema, { ...change, fromStatus: DeliveryStatus.PENDING, toStatus: DeliveryStatus.IN_TRANSIT });
      await publishEvent(runtime.bus, DeliveryStatusChangedSchema, {
        ...change,
        fromStatus: DeliveryStatus.IN_TRANSIT,
        toStatus: DeliveryStatus.FAILED,
        notes: "recipient absent",
      });
      const rows = await settled(orderId, 2);
      expect(rows[0].subject).toMatch(/^We could not deliver your order/);
      expect(rows[0].body).toContain("Carrier note: recipient absent");
    });
  });

  describe("ListNotifications and GetNotification", () => {
    it("lists by order and by customer, newest first, page by page", async () => {
      const customerId = uuidv7();
      const orders = [uuidv7(), uuidv7()];
      for (const orderId of orders) {
        await publishEvent(runtime.bus, OrderCreatedSchema, created(orderId, {}, customerId));
        await settled(orderId, 2);
      }
      await publishEvent(runtime.bus, OrderConfirmedSchema, { orderId: orders[0], customerId });
      await settled(orders[0], 4);
      const all: Notification[] = [];
      let pageToken = "";
      do {
        const page = await client.listNotifications({ customerId, pageSize: 2, pageToken });
        expect(page.notifications.length).toBeLessThanOrEqual(2);
        all.push(...page.notifications);
        pageToken = page.nextPageToken;
      } while (pageToken);
      expect(all).toHaveLength(6);
      expect(all.every((n) => n.customerId === customerId)).toBe(true);
      const ids = all.map((n) => n.id);
      expect(ids).toEqual([...ids].sort().reverse());
      expect(new Set(ids).size).toBe(6);
      const second = await client.listNotifications({ orderId: orders[1], customerId });
      expect(second.notifications.map((n) => n.orderId)).toEqual([orders[1], orders[1]]);
      expect((await client.listNotifications({ orderId: orders[0], customerId: uuidv7() })).notifications).toEqual([]);
      const { notification } = await client.getNotification({ notificationId: ids[0] });
      expect(notification).toMatchObject({ id: ids[0], customerId });
    });

    it("answers bad input with INVALID_ARGUMENT and unknown ids with NOT_FOUND", async () => {
      await expectCode(client.getNotification({ notificationId: uuidv7() }), Code.NOT_FOUND);
      await expectCode(client.getNotification({ notificationId: "x" }), Code.INVALID_ARGUMENT, /notification_id/);
      await expectCode(client.listNotifications({ orderId: "x" }), Code.INVALID_ARGUMENT, /order_id/);
      await expectCode(client.listNotifications({ customerId: "x" }), Code.INVALID_ARGUMENT, /customer_id/);
      await expectCode(client.listNotifications({ pageToken: "x" }), Code.INVALID_ARGUMENT, /page_token/);
      await expectCode(client.listNotifications({ pageSize: -1 }), Code.INVALID_ARGUMENT, /page_size/);
    });
  });

  describe("outcomes", () => {
    it("writes the outcomes of several attempts in one statement, and none whose claim was taken over", async () => {
      const em = service.orm.em.fork();
      const claim = (body: string) =>
        store.insertClaimed(
          em,
          { orderId: null, customerId: "", channel: "EMAIL", recipient: "outcomes@example.com", template: null, subject: "s", body, eventId: null },
          60_000,
        );
      const [sent, retry, failed, released, stale] = await Promise.all(["sent", "retry", "failed", "released", "stale"].map(claim));
      const written = await store.recordOutcomes(em, [
        { claimed: sent, outcome: { kind: "sent", providerMessageId: "p-1" } },
        { claimed: retry, outcome: { kind: "retry", error: "busy", delayMs: 60_000 } },
        { claimed: failed, outcome: { kind: "failed", error: "no such mailbox" } },
        { claimed: released, outcome: { kind: "released", reason: "circuit open", delayMs: 60_000 } },
        // Another sender re-claimed it meanwhile (attempt 2): this attempt's outcome is dropped.
        { claimed: { ...stale, attempts: 0 }, outcome: { kind: "sent", providerMessageId: "p-2" } },
      ]);
      expect([...written].sort()).toEqual([sent.id, retry.id, failed.id, released.id].sort());
      const rows = await sql<{
        id: string;
        status: string;
        attempts: number;
        last_error: string | null;
        provider_message_id: string | null;
        due: boolean | null;
      }>(
        em,
        "SELECT id, status, attempts, last_error, provider_message_id, next_attempt_at > now() + interval '50 seconds' AS due FROM notification_log WHERE id = ANY(?::uuid[])",
        [[sent.id, retry.id, failed.id, released.id, stale.id]],
      );
      const byId = new Map(rows.map((row) => [row.id, row]));
      expect(byId.get(sent.id)).toMatchObject({ status: "SENT", attempts: 1, last_error: null, provider_message_id: "p-1", due: null });
      expect(byId.get(retry.id)).toMatchObject({ status: "PENDING", attempts: 1, last_error: "busy", due: true });
      expect(byId.get(failed.id)).toMatchObject({ status: "FAILED", attempts: 1, last_error: "no such mailbox", due: null });
      expect(byId.get(released.id)).toMatchObject({ status: "PENDING", attempts: 0, last_error: "circuit open", due: true });
      expect(byId.get(stale.id)).toMatchObject({ status: "PENDING", attempts: 1, provider_message_id: null });
      await sql(em, "DELETE FROM notification_log WHERE recipient = 'outcomes@example.com'");
    });
  });

  describe("SendNotification", () => {
    it("sends before answering", async () => {
      const customerId = uuidv7();
      const { notification } = await client.sendNotification({
        customerId,
        channel: Channel.EMAIL,
        recipient: "Jane@Example.com",
        subject: "Hello",
        body: "Your voucher: SAVE10",
      });
      expect(notification).toMatchObject({
        customerId,
        orderId: "",
        eventId: "",
        channel: Channel.EMAIL,
        recipient: "Jane@example.com",
        subject: "Hello",
        body: "Your voucher: SAVE10",
        status: NotificationStatus.SENT,
        attempts: 1,
      });
      expect((await client.getNotification({ notificationId: notification!.id })).notification?.status).toBe(NotificationStatus.SENT);
    });

    it("renders a built-in template", async () => {
      const orderId = uuidv7();
      const { notification } = await client.sendNotification({
        orderId,
        channel: Channel.SMS,
        recipient: "+1 555 123 4567",
        template: "order_confirmed",
        templateData: { total: "5.00 USD" },
      });
      expect(notification).toMatchObject({ orderId, recipient: "+15551234567", subject: "", status: NotificationStatus.SENT });
      expect(notification?.body).toBe(`ordermesh: order #${orderId.slice(-8).toUpperCase()} is confirmed (total 5.00 USD).`);
      expect((await log.expectEvent(NotificationSentSchema, orderId)).notificationId).toBe(notification?.id);
    });

    it("answers a provider failure with the notification, not an error", async () => {
      const { notification: pending } = await client.sendNotification({ channel: Channel.EMAIL, recipient: "a@flaky.example", body: "x" });
      expect(pending).toMatchObject({ status: NotificationStatus.PENDING, attempts: 1 });
      expect(pending?.lastError).toMatch(/temporarily unavailable/);
      const sent = await waitFor(
        async () => {
          const { notification } = await client.getNotification({ notificationId: pending!.id });
          return notification?.status === NotificationStatus.SENT && notification;
        },
        { message: "the dispatcher to send it" },
      );
      expect(sent.attempts).toBe(3);
      const { notification: refused } = await client.sendNotification({ channel: Channel.SMS, recipient: "+4930199991", body: "x" });
      expect(refused).toMatchObject({ status: NotificationStatus.FAILED, attempts: 1 });
      expect(refused?.lastError).toMatch(/not in service/);
    });

    it("validates the request, naming the field", async () => {
      const ok = { channel: Channel.EMAIL, recipient: "jane@example.com", subject: "s", body: "b" };
      await expectCode(client.sendNotification({ ...ok, channel: Channel.UNSPECIFIED }), Code.INVALID_ARGUMENT, /^channel:/);
      await expectCode(client.sendNotification({ ...ok, recipient: "jane" }), Code.INVALID_ARGUMENT, /^recipient: must be an e-mail address/);
      await expectCode(client.sendNotification({ ...ok, recipient: "" }), Code.INVALID_ARGUMENT, /^recipient:/);
      await expectCode(
        client.sendNotification({ ...ok, channel: Channel.SMS, recipient: "jane@example.com" }),
        Code.INVALID_ARGUMENT,
        /^recipient: must be a phone number/,
      );
      await expectCode(client.sendNotification({ ...ok, channel: Channel.SMS, recipient: "12345" }), Code.INVALID_ARGUMENT, /^recipient:/);
      await expectCode(client.sendNotification({ ...ok, body: " " }), Code.INVALID_ARGUMENT, /^body: is required/);
      await expectCode(
        client.sendNotification({ ...ok, channel: Channel.SMS, recipient: "+4930123456", body: "x".repeat(1601) }),
        Code.INVALID_ARGUMENT,
        /^body: must be at most 1600/,
      );
      await expectCode(client.sendNotification({ ...ok, subject: "x".repeat(201) }), Code.INVALID_ARGUMENT, /^subject:/);
      await expectCode(client.sendNotification({ ...ok, subject: "Hi\r\nBcc: x@evil.example" }), Code.INVALID_ARGUMENT, /^subject: must be a single line/);
      await expectCode(client.sendNotification({ ...ok, orderId: "nope" }), Code.INVALID_ARGUMENT, /^order_id:/);
      await expectCode(client.sendNotification({ ...ok, customerId: "nope" }), Code.INVALID_ARGUMENT, /^customer_id:/);
      await expectCode(client.sendNotification({ ...ok, template: "nope" }), Code.INVALID_ARGUMENT, /^template: unknown template "nope"/);
      await expectCode(
        client.sendNotification({ ...ok, template: "order_shipped" }),
        Code.INVALID_ARGUMENT,
        /^template_data.order_id: is required by template order_shipped/,
      );
      await expectCode(
        client.sendNotification({ ...ok, template: "order_shipped", templateData: { order_id: uuidv7(), carrier: "x".repeat(501) } }),
        Code.INVALID_ARGUMENT,
        /^template_data.carrier:/,
      );
      const [{ count }] = await service.orm.em
        .getConnection()
        .execute("SELECT count(*)::int AS count FROM notification_log WHERE recipient = 'jane@example.com' AND order_id IS NULL AND customer_id = ''");
      expect(count).toBe(0);
    });
  });
});

describe("notification dispatcher: wake-up and circuit breaker", () => {
  let runtime: TestRuntime;
  let service: RunningService;
  let client: GrpcClient<typeof NotificationService>;
  let smsCalls = 0;

  beforeAll(async () => {
    runtime = await createTestRuntime();
    const config = await runtime.config("notification");
    service = await start(
      // A poll far longer than the test waits: only the wake-up after a consumer's commit can be this quick.
      { ...config, ...SETTINGS, pollMs: 60_000, breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 } },
      {
        logger: runtime.logger,
        providers: {
          // Accepts every address but one, which it refuses in words PostgreSQL cannot store.
          EMAIL: {
            channel: "EMAIL",
            send: async (message) => {
              if (message.recipient === "nul@example.com") throw permanentFailure("mailbox\u0000 unknown \ud83d");
              return { providerMessageId: `id-${message.idempotencyKey}` };
            },
          },
          SMS: {
            channel: "SMS",
            send: async () => {
              smsCalls++;
              throw transientFailure("SMS gateway down");
            },
          },
        },
      },
    );
    client = createClient(NotificationService, `127.0.0.1:${service.grpcPort}`, { name: "notification", deadlineMs: 10_000 });
  });

  afterAll(async () => {
    client?.close();
    await service?.stop();
    await runtime?.cleanup();
  });

  it("sends an event's messages right after the consumer commits, not at the next poll", async () => {
    const orderId = uuidv7();
    await publishEvent(runtime.bus, OrderCreatedSchema, { orderId, customerId: uuidv7(), customerEmail: "jane@example.com" });
    const rows = await waitFor(
      async () => {
        const { notifications } = await client.listNotifications({ orderId });
        return notifications.length === 1 && notifications[0].status === NotificationStatus.SENT && notifications;
      },
      { timeoutMs: 5_000, message: "the e-mail sent without waiting for a poll" },
    );
    expect(rows[0].attempts).toBe(1);
  });

  it("stops calling a failing provider once its circuit opens; refused attempts do not count", async () => {
    const first = await client.sendNotification({ channel: Channel.SMS, recipient: "+4930123456", body: "1" });
    const second = await client.sendNotification({ channel: Channel.SMS, recipient: "+4930123456", body: "2" });
    expect([first.notification?.attempts, second.notification?.attempts]).toEqual([1, 1]);
    expect(smsCalls).toBe(2);
    const { notification: refused } = await client.sendNotification({ channel: Channel.SMS, recipient: "+4930123456", body: "3" });
    expect(smsCalls).toBe(2);
    expect(refused).toMatchObject({ status: NotificationStatus.PENDING, attempts: 0, lastError: "SMS provider unavailable (circuit open)" });
    // E-mail has its own breaker and still works.
    const { notification: email } = await client.sendNotification({ channel: Channel.EMAIL, recipient: "jane@example.com", body: "x" });
    expect(email?.status).toBe(NotificationStatus.SENT);
  });

  it("records a provider's refusal whose text holds a NUL, repaired", async () => {
    const { notification } = await client.sendNotification({ channel: Channel.EMAIL, recipient: "nul@example.com", body: "x" });
    expect(notification).toMatchObject({ status: NotificationStatus.FAILED, attempts: 1, lastError: "mailbox\ufffd unknown \ufffd" });
  });
});
