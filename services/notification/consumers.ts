import type { DescMessage, Message, MessageShape } from "@bufbuild/protobuf";
import type { EntityManager } from "@mikro-orm/postgresql";
import { ROOT_CONTEXT } from "@opentelemetry/api";
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
import { afterRetiredConsumers, type BatchEvent, EVENT_TYPE_HEADER, requireOrderId, retireConsumers } from "../../lib/events/index.js";
import { lazyChild, type Logger } from "../../lib/log.js";
import { formatMoney, money, moneyProblem } from "../../lib/money.js";
import { type ConsumerSpec, consumeBatches } from "../../lib/runtime/index.js";
import { currentTraceParent, extractHeaders } from "../../lib/telemetry/index.js";
import { contactsIn, type PlanEvent, planBatch } from "./domain/batch-plan.js";
import { storedText as text } from "./domain/stored-text.js";
import { maskRecipient, normalizeEmail, normalizePhone } from "./domain/recipients.js";
import type { TemplateName } from "./domain/templates.js";
import * as store from "./notification-store.js";

/**
 * The saga's customer messages. order.created brings the only contact details (e-mail, phone,
 * name), kept per order; every later customer-visible transition queues one message per known
 * channel (PENDING rows; the dispatcher sends them).
 *
 * Sources, one per transition so nothing is announced twice: order.* events for everything the
 * order service decides (created, confirmed, payment failed, cancelled, rejected, expired,
 * shipped, delivered), file.invoice_generated for the invoice, and delivery.status_changed only
 * for FAILED, which has no order event of its own. payment.failed is not consumed: the order's
 * order.payment_failed reports the same thing.
 *
 * One durable consumer, `notification-events`, takes all of them and applies each batch at once
 * (see `applyBatch`). On the first start after an upgrade from the per-event-type consumers it is
 * created where they left off, not at the start of the stream: a full replay would dead-letter
 * their dead letters again and apply late what they gave up on.
 */

/** The durable consumer of the saga's events. */
export const NOTIFICATION_CONSUMER = "notification-events";

/**
 * The per-event-type consumers it replaced: where they left off is where it starts when it is
 * created; then they are deleted so that they stop collecting messages.
 */
export const RETIRED_CONSUMERS = [
  "notification-order-created",
  "notification-order-confirmed",
  "notification-order-payment-failed",
  "notification-order-cancelled",
  "notification-order-rejected",
  "notification-order-expired",
  "notification-order-shipped",
  "notification-order-delivered",
  "notification-delivery-failed",
  "notification-invoice-ready",
];

export interface NotificationConsumerOptions {
  logger: Logger;
  /** Called inside a batch's transaction that queued notifications (wakes the dispatcher after commit). */
  onQueued(em: EntityManager): void;
}

type Announce<Desc extends DescMessage> = (
  event: MessageShape<Desc>,
  log: Logger,
) => { template: TemplateName; vars?: PlanEvent["vars"]; contact?: PlanEvent["contact"] } | undefined;

/** What each event type announces (undefined: nothing), and the types the consumer takes. */
const ANNOUNCE = new Map<string, Announce<DescMessage>>();
const EVENT_TYPES: DescMessage[] = [];
function on<Desc extends DescMessage>(schema: Desc, announce: Announce<Desc>): void {
  ANNOUNCE.set(schema.typeName, announce as Announce<DescMessage>);
  EVENT_TYPES.push(schema);
}

on(OrderCreatedSchema, (event, log) => {
  const email = event.customerEmail ? normalizeEmail(event.customerEmail) : undefined;
  const phone = event.customerPhone ? normalizePhone(event.customerPhone) : undefined;
  // A bad address loses that channel, not the order's other messages.
  if (event.customerEmail && !email) log.warn({ recipient: maskRecipient(event.customerEmail) }, "order has an invalid e-mail address; no e-mails");
  if (event.customerPhone && !phone) log.warn({ recipient: maskRecipient(event.customerPhone) }, "order has an invalid phone number; no SMS");
  // A total that cannot be shown is left out of the messages, not a reason to send none.
  const total = event.total && !moneyProblem(event.total) ? money(event.total.currencyCode, event.total.amountMinor) : undefined;
  const contact = {
    orderId: event.orderId,
    customerId: event.customerId,
    name: text(event.customerName, 200) ?? "",
    email: email ?? "",
    phone: phone ?? "",
    total: total ?? null,
  };
  return { template: "order_created", contact };
});
on(OrderConfirmedSchema, (event) => ({
  template: "order_confirmed",
  vars: { total: event.total && event.total.currencyCode ? formatMoney(event.total) : undefined },
}));
on(OrderPaymentFailedSchema, (event) => ({ template: "order_payment_failed", vars: { reason: text(event.reason) } }));
on(OrderCancelledSchema, (event) => ({ template: "order_cancelled", vars: { reason: text(event.reason), refund: event.wasCharged ? "true" : undefined } }));
on(OrderRejectedSchema, (event) => ({ template: "order_rejected", vars: { reason: text(event.reason) } }));
on(OrderExpiredSchema, () => ({ template: "order_expired" }));
on(OrderShippedSchema, (event) => ({
  template: "order_shipped",
  vars: { carrier: text(event.carrier, 100), tracking_number: text(event.trackingNumber, 100) },
}));
on(OrderDeliveredSchema, () => ({ template: "order_delivered" }));
// IN_TRANSIT and DELIVERED are announced from order.shipped / order.delivered instead.
on(DeliveryStatusChangedSchema, (event) =>
  event.toStatus === DeliveryStatus.FAILED ? { template: "delivery_failed", vars: { notes: text(event.notes) } } : undefined,
);
on(FileInvoiceGeneratedSchema, (event) => ({ template: "invoice_ready", vars: { file_id: text(event.fileId, 100) } }));

export function notificationConsumers({ logger, onQueued }: NotificationConsumerOptions): ConsumerSpec[] {
  const consumerLog = logger.child({ consumer: NOTIFICATION_CONSUMER });

  /** The event as the plan takes it, with a logger that carries its order; undefined when it announces nothing. */
  function toPlanEvent(event: BatchEvent): { planned: PlanEvent; log: Logger } | undefined {
    const message = event.message as Message & { orderId: string; customerId: string };
    const log = lazyChild(consumerLog, { event_id: event.eventId, event_type: event.headers[EVENT_TYPE_HEADER], order_id: message.orderId });
    const announced = ANNOUNCE.get(event.schema.typeName)?.(message, log);
    // An event that announces nothing is done with, whatever its order id says.
    if (!announced) return undefined;
    // An invalid order id fails the batch; applied alone, that event goes to the DLQ.
    const orderId = requireOrderId(message.orderId);
    // The first attempt continues the trace of the event that queued it.
    const traceParent = currentTraceParent(extractHeaders((key) => event.headers[key], ROOT_CONTEXT));
    return {
      planned: {
        eventId: event.eventId,
        streamSequence: event.streamSequence,
        orderId,
        customerId: message.customerId,
        template: announced.template,
        vars: announced.vars ?? {},
        contact: announced.contact && { ...announced.contact, orderId },
        traceParent,
      },
      log,
    };
  }

  /**
   * Applies a batch with three statements whatever its size (a fourth when messages must wait):
   * lock its orders; read their contacts while saving the batch's new ones and taking the
   * messages that waited for them; queue every message. Then keep the messages still waiting.
   */
  async function applyBatch(batch: BatchEvent[], em: EntityManager): Promise<void> {
    const events = batch.flatMap((event) => toPlanEvent(event) ?? []);
    if (events.length === 0) return;
    const orderIds = [...new Set(events.map((e) => e.planned.orderId))];
    const planned = events.map((e) => e.planned);
    await store.lockOrders(em, orderIds);
    const { known, taken } = await store.readContacts(em, orderIds, contactsIn(planned));
    const plan = planBatch(planned, known, taken);
    const queued = await store.queue(em, plan.messages);
    await store.savePending(em, plan.pending);
    if (queued > 0) onQueued(em);

    const logOf = new Map(events.map((e) => [e.planned.eventId, e.log]));
    for (const message of plan.pending) {
      logOf.get(message.eventId)?.info({ template: message.template }, "no contact details for the order yet; the message waits for order.created");
    }
    for (const message of plan.dropped) {
      consumerLog.error(
        { order_id: message.orderId, template: message.template, pending_event_id: message.eventId },
        "pending notification has an unknown template; dropped",
      );
    }
    for (const message of plan.messages) {
      logOf.get(message.eventId)?.debug({ template: message.template, channel: message.channel }, "notification queued");
    }
  }

  // Replayed events past the old consumers' lowest floor are harmless: contacts and pending
  // messages are kept once per order / event, and notification_log once per (event_id, channel).
  // An e-mail a tenth of a second later is as good as one now; below saturation, waiting that
  // long lets a saga's events share one transaction instead of one each.
  const events = consumeBatches(EVENT_TYPES, NOTIFICATION_CONSUMER, applyBatch, { startSequence: afterRetiredConsumers(RETIRED_CONSUMERS), lingerMs: 100 });
  return [
    {
      consumer: events.consumer,
      async start(deps) {
        const running = await events.start(deps);
        // Only once the replacement exists, since its start position is read from them. A crash
        // before this leaves them for the next start, which deletes them without moving the
        // replacement (its position is only chosen when it is created). Failing to clean up is
        // no reason not to serve; the next start tries again.
        await retireConsumers({ jsm: deps.bus.jsm, stream: deps.bus.names.stream, consumers: RETIRED_CONSUMERS, logger: deps.logger }).catch((error: unknown) =>
          deps.logger.error({ err: error }, "could not delete the retired notification consumers; will try again at the next start"),
        );
        return running;
      },
    },
  ];
}
