import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { EntityManager } from "@mikro-orm/postgresql";
import { DeliveryStatus } from "../../gen/shop/delivery/v1/delivery_pb.js";
import { DeliveryStatusChangedSchema } from "../../gen/shop/events/v1/delivery_events_pb.js";
import { FileInvoiceGeneratedSchema } from "../../gen/shop/events/v1/file_events_pb.js";
import {
  OrderCancelledSchema,
  OrderConfirmedSchema,
  OrderCreatedSchema,
  OrderDeliveredSchema,
  OrderExpiredSchema,
  OrderPaymentFailedSchema,
  OrderRejectedSchema,
  OrderShippedSchema,
} from "../../gen/shop/events/v1/order_events_pb.js";
import { type EventContext, requireOrderId } from "../../lib/events/index.js";
import { type ConsumerSpec, consume } from "../../lib/runtime/index.js";
import { formatMoney, money, moneyProblem } from "../../lib/money.js";
import { type ChannelName, maskRecipient, normalizeEmail, normalizePhone } from "./domain/recipients.js";
import { isTemplateName, renderTemplate, type TemplateName } from "./domain/templates.js";
import type { OrderContactRow } from "./entities.js";
import * as store from "./notification-store.js";

/**
 * The saga's customer messages. order.created brings the only contact details (e-mail, phone,
 * name), kept per order; every later customer-visible transition queues one message per known
 * channel in the handler's transaction (PENDING rows; the dispatcher sends them).
 *
 * Sources, one per transition so nothing is announced twice: order.* events for everything the
 * order service decides (created, confirmed, payment failed, cancelled, rejected, expired,
 * shipped, delivered), file.invoice_generated for the invoice, and delivery.status_changed only
 * for FAILED, which has no order event of its own. payment.failed is not consumed: the order's
 * order.payment_failed reports the same thing.
 */

export interface NotificationConsumerOptions {
  /** Called inside a handler's transaction that queued notifications (wakes the dispatcher after commit). */
  onQueued(em: EntityManager): void;
}

function text(value: string, max = 300): string | undefined {
  const trimmed = value.trim();
  return trimmed ? trimmed.slice(0, max) : undefined;
}

export function notificationConsumers({ onQueued }: NotificationConsumerOptions): ConsumerSpec[] {
  /** Queues `template` for the contact's channels, once per event and channel. */
  async function queueFor(
    em: EntityManager,
    contact: OrderContactRow,
    message: { eventId: string; customerId: string; template: TemplateName; vars: Record<string, string | undefined> },
    logger: EventContext["logger"],
  ): Promise<void> {
    const data = {
      order_id: contact.orderId,
      name: contact.name,
      total: contact.totalMinor != null && contact.currencyCode ? formatMoney(contact.totalMinor, contact.currencyCode) : undefined,
      ...message.vars,
    };
    const recipients: [ChannelName, string][] = [];
    if (contact.email) recipients.push(["EMAIL", contact.email]);
    if (contact.phone) recipients.push(["SMS", contact.phone]);
    const queued = await store.queue(
      em,
      recipients.map(([channel, recipient]) => ({
        ...renderTemplate(message.template, channel, data),
        channel,
        recipient,
        template: message.template,
        orderId: contact.orderId,
        customerId: message.customerId || contact.customerId,
        eventId: message.eventId,
      })),
    );
    if (queued > 0) onQueued(em);
    const channels = recipients.map(([c]) => c);
    logger.debug({ template: message.template, queued, channels }, recipients.length ? "notifications queued" : "no contact channel for the order");
  }

  /**
   * Queues `template` for the order's known channels. Consumers run independently, so this
   * event may overtake the order's order.created, which brings the recipients: then the message
   * is kept as pending and order.created queues it. Both sides hold the order's lock, so one of
   * them always sees the other's row.
   */
  async function notifyOrder(
    event: { orderId: string; customerId: string },
    ctx: EventContext,
    template: TemplateName,
    vars: Record<string, string | undefined> = {},
  ): Promise<void> {
    const orderId = requireOrderId(event.orderId);
    await store.lockOrder(ctx.em, orderId);
    const contact = await store.contactOf(ctx.em, orderId);
    const message = { eventId: ctx.eventId, customerId: event.customerId, template, vars };
    if (!contact) {
      await store.savePending(ctx.em, { ...message, orderId });
      ctx.logger.info({ template }, "no contact details for the order yet; the message waits for order.created");
      return;
    }
    await queueFor(ctx.em, contact, message, ctx.logger);
  }

  function on<Desc extends DescMessage>(schema: Desc, purpose: string, handler: (event: MessageShape<Desc>, ctx: EventContext) => Promise<void>): ConsumerSpec {
    return consume(schema, `notification-${purpose}`, handler);
  }

  return [
    on(OrderCreatedSchema, "order-created", async (event, ctx) => {
      const orderId = requireOrderId(event.orderId);
      const email = event.customerEmail ? normalizeEmail(event.customerEmail) : undefined;
      const phone = event.customerPhone ? normalizePhone(event.customerPhone) : undefined;
      // A bad address loses that channel, not the order's other messages.
      if (event.customerEmail && !email) ctx.logger.warn({ recipient: maskRecipient(event.customerEmail) }, "order has an invalid e-mail address; no e-mails");
      if (event.customerPhone && !phone) ctx.logger.warn({ recipient: maskRecipient(event.customerPhone) }, "order has an invalid phone number; no SMS");
      // A total that cannot be shown is left out of the messages, not a reason to send none.
      const total = event.total && !moneyProblem(event.total) ? money(event.total.currencyCode, event.total.amountMinor) : undefined;
      await store.lockOrder(ctx.em, orderId);
      await store.saveContact(ctx.em, {
        orderId,
        customerId: event.customerId,
        name: text(event.customerName, 200) ?? "",
        email: email ?? "",
        phone: phone ?? "",
        total,
      });
      const contact = (await store.contactOf(ctx.em, orderId))!;
      await queueFor(ctx.em, contact, { eventId: ctx.eventId, customerId: event.customerId, template: "order_created", vars: {} }, ctx.logger);
      // Messages of events that arrived before this one, in the order they arrived.
      for (const pending of await store.takePending(ctx.em, orderId)) {
        if (!isTemplateName(pending.template)) {
          ctx.logger.error({ template: pending.template, pending_event_id: pending.eventId }, "pending notification has an unknown template; dropped");
          continue;
        }
        await queueFor(ctx.em, contact, { ...pending, template: pending.template }, ctx.logger);
      }
    }),

    on(OrderConfirmedSchema, "order-confirmed", (event, ctx) =>
      notifyOrder(event, ctx, "order_confirmed", {
        total: event.total && event.total.currencyCode ? formatMoney(event.total) : undefined,
      }),
    ),
    on(OrderPaymentFailedSchema, "order-payment-failed", (event, ctx) => notifyOrder(event, ctx, "order_payment_failed", { reason: text(event.reason) })),
    on(OrderCancelledSchema, "order-cancelled", (event, ctx) =>
      notifyOrder(event, ctx, "order_cancelled", { reason: text(event.reason), refund: event.wasCharged ? "true" : undefined }),
    ),
    on(OrderRejectedSchema, "order-rejected", (event, ctx) => notifyOrder(event, ctx, "order_rejected", { reason: text(event.reason) })),
    on(OrderExpiredSchema, "order-expired", (event, ctx) => notifyOrder(event, ctx, "order_expired")),
    on(OrderShippedSchema, "order-shipped", (event, ctx) =>
      notifyOrder(event, ctx, "order_shipped", { carrier: text(event.carrier, 100), tracking_number: text(event.trackingNumber, 100) }),
    ),
    on(OrderDeliveredSchema, "order-delivered", (event, ctx) => notifyOrder(event, ctx, "order_delivered")),
    on(DeliveryStatusChangedSchema, "delivery-failed", async (event, ctx) => {
      // IN_TRANSIT and DELIVERED are announced from order.shipped / order.delivered instead.
      if (event.toStatus !== DeliveryStatus.FAILED) return;
      await notifyOrder(event, ctx, "delivery_failed", { notes: text(event.notes) });
    }),
    on(FileInvoiceGeneratedSchema, "invoice-ready", (event, ctx) => notifyOrder(event, ctx, "invoice_ready", { file_id: text(event.fileId, 100) })),
  ];
}
