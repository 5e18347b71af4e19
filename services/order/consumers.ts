import { DeliveryStatusChangedSchema } from "../../gen/shop/events/v1/delivery_events_pb.js";
import { InventoryInsufficientSchema, InventoryReleasedSchema, InventoryReservedSchema, ReleaseReason } from "../../gen/shop/events/v1/inventory_events_pb.js";
import { PaymentCompletedSchema, PaymentFailedSchema, PaymentRefundedSchema } from "../../gen/shop/events/v1/payment_events_pb.js";
import { DeliveryStatus } from "../../gen/shop/delivery/v1/delivery_pb.js";
import { type EventContext, PermanentError, requireOrderId } from "../../lib/events/index.js";
import { type ConsumerSpec, consume } from "../../lib/runtime/index.js";
import { isUnpayable, type OrderInput } from "./domain/order-status.js";
import type { EntityManager } from "../../lib/db/index.js";
import { lockBatch } from "./order-batch.js";
import { applyEvent, type EventEffect } from "./orders.js";
import { recordRefund } from "./order-store.js";

function logEffect(ctx: EventContext, effect: EventEffect): void {
  if (effect.kind === "transition") {
    ctx.logger.info({ from: effect.before, to: effect.after.status }, "order status changed");
  } else {
    ctx.logger.info({ status: effect.order.status, why: effect.why }, "event does not change the order");
  }
}

const DELIVERY_INPUTS: Partial<Record<DeliveryStatus, Extract<OrderInput, { type: "delivery.status_changed" }>["to"]>> = {
  [DeliveryStatus.PENDING]: "PENDING",
  [DeliveryStatus.IN_TRANSIT]: "IN_TRANSIT",
  [DeliveryStatus.DELIVERED]: "DELIVERED",
  [DeliveryStatus.FAILED]: "FAILED",
  [DeliveryStatus.CANCELLED]: "CANCELLED",
};

/** Locks the orders of a consumer batch, all at once and in id order, before any handler runs. */
function lockOrdersOf<E extends { orderId: string }>(options: { confirmation?: boolean; when?: (event: E) => boolean } = {}) {
  return (events: E[], em: EntityManager) =>
    lockBatch(
      em,
      events.filter((event) => options.when?.(event) ?? true).map((event) => event.orderId),
      options,
    );
}

/**
 * The saga events that move orders. Each consumer batch runs in one transaction: its orders are
 * locked and read in one statement (beforeBatch), each handler lets the state machine decide
 * from what was read, and the batch's transitions (orders, history rows with the event ids, and
 * the resulting order events) are written in one statement at commit. Duplicates are dropped by
 * the consumer's processed_events; late and out-of-order events are ignored by the state machine.
 */
export function orderConsumers(): ConsumerSpec[] {
  return [
    consume(
      InventoryReservedSchema,
      "order-inventory-reserved",
      async (event, ctx) => {
        const effect = applyEvent(ctx.em, requireOrderId(event.orderId), { type: "inventory.reserved" }, { eventId: ctx.eventId });
        logEffect(ctx, effect);
      },
      { beforeBatch: lockOrdersOf() },
    ),

    consume(
      InventoryInsufficientSchema,
      "order-inventory-insufficient",
      async (event, ctx) => {
        const orderId = requireOrderId(event.orderId);
        const shortProductIds = [...new Set(event.shortages.map((s) => s.productId).filter((id) => id !== ""))];
        const reason = event.reason.trim() || `insufficient stock for ${shortProductIds.join(", ") || "the order"}`;
        const effect = applyEvent(ctx.em, orderId, { type: "inventory.insufficient", reason }, { eventId: ctx.eventId, details: { shortProductIds } });
        logEffect(ctx, effect);
      },
      { beforeBatch: lockOrdersOf() },
    ),

    consume(
      InventoryReleasedSchema,
      "order-inventory-released",
      async (event, ctx) => {
        const orderId = requireOrderId(event.orderId);
        // Releases other than expiry are consequences of the order's own events (or an admin's
        // Release): nothing to decide, and no need to look the order up.
        if (event.reason !== ReleaseReason.EXPIRED) {
          ctx.logger.debug({ reason: ReleaseReason[event.reason] }, "release does not change the order");
          return;
        }
        const effect = applyEvent(ctx.em, orderId, { type: "inventory.released", reason: "EXPIRED" }, { eventId: ctx.eventId });
        logEffect(ctx, effect);
      },
      { beforeBatch: lockOrdersOf({ when: (event) => event.reason === ReleaseReason.EXPIRED }) },
    ),

    consume(
      PaymentCompletedSchema,
      "order-payment-completed",
      async (event, ctx) => {
        const orderId = requireOrderId(event.orderId);
        // Card data never goes further than its last four digits.
        const cardLast4 = /^[0-9]{4}$/.test(event.cardLast4) ? event.cardLast4 : "";
        const effect = applyEvent(ctx.em, orderId, { type: "payment.completed" }, { eventId: ctx.eventId, payment: { paymentId: event.paymentId, cardLast4 } });
        logEffect(ctx, effect);
        if (effect.kind === "ignored" && isUnpayable(effect.order.status)) {
          // A charge that lost the race with an expiry or cancellation. No order event asks for
          // the refund of an order that was not CONFIRMED; make it visible.
          ctx.logger.warn(
            { status: effect.order.status, payment_id: event.paymentId },
            "payment completed for an order that is no longer payable; it needs a refund",
          );
        }
      },
      { beforeBatch: lockOrdersOf({ confirmation: true }) },
    ),

    consume(
      PaymentFailedSchema,
      "order-payment-failed",
      async (event, ctx) => {
        const reason = event.reason.trim() || "payment failed";
        const effect = applyEvent(ctx.em, requireOrderId(event.orderId), { type: "payment.failed", reason }, { eventId: ctx.eventId });
        logEffect(ctx, effect);
      },
      { beforeBatch: lockOrdersOf() },
    ),

    consume(
      PaymentRefundedSchema,
      "order-payment-refunded",
      async (event, ctx) => {
        // Recorded on the order (refunded_minor); a refund never changes the status.
        const orderId = requireOrderId(event.orderId);
        const amount = event.amount?.amountMinor ?? 0n;
        if (amount < 0n) throw new PermanentError(`refund amount must not be negative, got ${amount}`);
        if (!(await recordRefund(ctx.em, orderId, amount))) throw new Error(`order ${orderId} not found; retrying`);
        ctx.logger.info({ refund_id: event.refundId, amount_minor: amount.toString() }, "refund recorded");
      },
      // Locked like every other writer of the order rows, sorted, so batches cannot deadlock.
      { beforeBatch: lockOrdersOf() },
    ),

    consume(
      DeliveryStatusChangedSchema,
      "order-delivery-status",
      async (event, ctx) => {
        const orderId = requireOrderId(event.orderId);
        const to = DELIVERY_INPUTS[event.toStatus];
        if (!to) throw new PermanentError(`delivery.status_changed has no valid to_status (${event.toStatus})`);
        const delivery = { deliveryId: event.deliveryId, carrier: event.carrier, trackingNumber: event.trackingNumber };
        const effect = applyEvent(ctx.em, orderId, { type: "delivery.status_changed", to }, { eventId: ctx.eventId, details: { delivery } });
        logEffect(ctx, effect);
      },
      { beforeBatch: lockOrdersOf() },
    ),
  ];
}
