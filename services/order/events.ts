import { timestampNow } from "@bufbuild/protobuf/wkt";
import type { EntityManager } from "@mikro-orm/postgresql";
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
import { enqueue } from "../../lib/events/index.js";
import type { OrderStatus } from "./domain/order-status.js";
import type { PricedOrder } from "./domain/pricing.js";
import type { CustomerRow, OrderItemRow, OrderRow } from "./entities.js";
import { findItems } from "./order-store.js";
import type { AddressData } from "./domain/address.js";

/** The order events, written to the outbox on the caller's transaction. */

function money(currencyCode: string, amountMinor: bigint) {
  return { currencyCode, amountMinor };
}

function eventLines(currencyCode: string, items: readonly { productId: string; quantity: number; productName: string; unitPriceMinor: bigint }[]) {
  return items.map((i) => ({ productId: i.productId, quantity: i.quantity, productName: i.productName, unitPrice: money(currencyCode, i.unitPriceMinor) }));
}

/** shop.order.created: carries the payment token (for payment) and contact details (for notification). */
export function publishCreated(
  em: EntityManager,
  order: { id: string; customer: CustomerRow; shippingAddress: AddressData; priced: PricedOrder; paymentToken: string },
): Promise<string> {
  const { priced } = order;
  return enqueue(
    em,
    OrderCreatedSchema,
    {
      orderId: order.id,
      customerId: order.customer.id,
      occurredAt: timestampNow(),
      lines: eventLines(priced.currencyCode, priced.lines),
      total: money(priced.currencyCode, priced.totalMinor),
      shippingAddress: order.shippingAddress,
      paymentMethod: { token: order.paymentToken },
      customerEmail: order.customer.email,
      customerPhone: order.customer.phone,
      customerName: order.customer.name,
    },
    { aggregateId: order.id },
  );
}

/** Details that only the causing event knows. */
export interface TransitionDetails {
  /** inventory.insufficient */
  shortProductIds?: string[];
  /** delivery.status_changed */
  delivery?: { deliveryId: string; carrier: string; trackingNumber: string };
}

/**
 * Publishes the event that announces `after.status`, if that status has one. RESERVED has no
 * order event (inventory.reserved already says it), nor has DELIVERY_FAILED (delivery's
 * delivery.status_changed does).
 */
export async function publishTransition(em: EntityManager, before: OrderStatus, after: OrderRow, reason: string, details: TransitionDetails = {}): Promise<void> {
  const head = { orderId: after.id, customerId: after.customerId, occurredAt: timestampNow() };
  const options = { aggregateId: after.id };
  switch (after.status) {
    case "CONFIRMED": {
      const items: OrderItemRow[] = await findItems(em, [after.id]);
      await enqueue(
        em,
        OrderConfirmedSchema,
        {
          ...head,
          lines: eventLines(after.currencyCode, items),
          total: money(after.currencyCode, after.totalMinor),
          shippingAddress: after.shippingAddress,
          paymentId: after.paymentId,
          cardLast4: after.cardLast4,
        },
        options,
      );
      return;
    }
    case "REJECTED":
      await enqueue(em, OrderRejectedSchema, { ...head, reason, shortProductIds: details.shortProductIds ?? [] }, options);
      return;
    case "PAYMENT_FAILED":
      await enqueue(em, OrderPaymentFailedSchema, { ...head, reason }, options);
      return;
    case "CANCELLED":
      await enqueue(em, OrderCancelledSchema, { ...head, reason, previousStatus: before, wasCharged: before === "CONFIRMED" }, options);
      return;
    case "EXPIRED":
      await enqueue(em, OrderExpiredSchema, head, options);
      return;
    case "SHIPPED":
      await enqueue(
        em,
        OrderShippedSchema,
        {
          ...head,
          deliveryId: details.delivery?.deliveryId ?? "",
          carrier: details.delivery?.carrier ?? "",
          trackingNumber: details.delivery?.trackingNumber ?? "",
        },
        options,
      );
      return;
    case "DELIVERED":
      await enqueue(em, OrderDeliveredSchema, { ...head, deliveryId: details.delivery?.deliveryId ?? "" }, options);
      return;
    case "PENDING":
    case "RESERVED":
    case "DELIVERY_FAILED":
      return;
  }
}
