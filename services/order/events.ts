import { timestampNow } from "@bufbuild/protobuf/wkt";
import {
  OrderCancelledSchema,
  OrderConfirmedSchema,
  OrderCreatedSchema,
  OrderDeliveredSchema,
  OrderDeliveryFailedSchema,
  OrderExpiredSchema,
  OrderPaymentFailedSchema,
  OrderRejectedSchema,
  OrderShippedSchema,
} from "../../gen/shop/events/v1/order_events_pb.js";
import { outboxRecord, type OutboxRecord } from "../../lib/events/index.js";
import { money } from "../../lib/money.js";
import type { Compensation, OrderStatus } from "./domain/order-status.js";
import type { PricedOrder } from "./domain/pricing.js";
import type { CustomerRow } from "./entities.js";
import type { LockedOrder } from "./order-store.js";
import type { AddressData } from "./domain/address.js";

/** The order events, as outbox rows for the statement that writes what caused them. */

function eventLines(currencyCode: string, items: readonly { productId: string; quantity: number; productName: string; unitPriceMinor: bigint }[]) {
  return items.map((i) => ({ productId: i.productId, quantity: i.quantity, productName: i.productName, unitPrice: money(currencyCode, i.unitPriceMinor) }));
}

/** shop.order.created, as an outbox row: carries the payment token (for payment) and contact details (for notification). */
export function createdEvent(order: {
  id: string;
  customer: Pick<CustomerRow, "id" | "email" | "phone" | "name">;
  shippingAddress: AddressData;
  priced: PricedOrder;
  paymentToken: string;
}): OutboxRecord {
  const { priced } = order;
  return outboxRecord(
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
 * The event that announces `after.status` as an outbox row, or undefined if that status has none.
 * RESERVED has no order event (inventory.reserved already says it). DELIVERY_FAILED publishes
 * order.delivery_failed only when the state machine owes a compensation (refund and restock).
 * order.confirmed needs the order locked with its confirmation details (lockOrders).
 */
export function transitionEvent(
  before: OrderStatus,
  after: LockedOrder,
  reason: string,
  details: TransitionDetails = {},
  compensation?: Compensation,
): OutboxRecord | undefined {
  const head = { orderId: after.id, customerId: after.customerId, occurredAt: timestampNow() };
  const options = { aggregateId: after.id };
  switch (after.status) {
    case "CONFIRMED": {
      const confirmation = after.confirmation;
      if (!confirmation) throw new Error(`order ${after.id} was confirmed without its confirmation details`);
      return outboxRecord(
        OrderConfirmedSchema,
        {
          ...head,
          lines: eventLines(after.currencyCode, confirmation.items),
          total: money(after.currencyCode, after.totalMinor),
          shippingAddress: after.shippingAddress,
          paymentId: after.paymentId,
          cardLast4: after.cardLast4,
          // The invoice names the customer; carrying them here spares the file service a wait for order.created.
          customerName: confirmation.customerName,
          customerEmail: confirmation.customerEmail,
        },
        options,
      );
    }
    case "REJECTED":
      return outboxRecord(OrderRejectedSchema, { ...head, reason, shortProductIds: details.shortProductIds ?? [] }, options);
    case "PAYMENT_FAILED":
      return outboxRecord(OrderPaymentFailedSchema, { ...head, reason }, options);
    case "CANCELLED":
      return outboxRecord(OrderCancelledSchema, { ...head, reason, previousStatus: before, wasCharged: before === "CONFIRMED" }, options);
    case "EXPIRED":
      return outboxRecord(OrderExpiredSchema, head, options);
    case "SHIPPED":
      return outboxRecord(
        OrderShippedSchema,
        {
          ...head,
          deliveryId: details.delivery?.deliveryId ?? "",
          carrier: details.delivery?.carrier ?? "",
          trackingNumber: details.delivery?.trackingNumber ?? "",
        },
        options,
      );
    case "DELIVERED":
      return outboxRecord(OrderDeliveredSchema, { ...head, deliveryId: details.delivery?.deliveryId ?? "" }, options);
    case "DELIVERY_FAILED":
      if (!compensation) return undefined;
      return outboxRecord(OrderDeliveryFailedSchema, { ...head, reason, deliveryId: details.delivery?.deliveryId ?? "", previousStatus: before }, options);
    case "PENDING":
    case "RESERVED":
      return undefined;
  }
}
