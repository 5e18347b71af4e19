import { timestampNow } from "@bufbuild/protobuf/wkt";
import type { EntityManager } from "@mikro-orm/postgresql";
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
import { enqueue, outboxRecord, type OutboxRecord } from "../../lib/events/index.js";
import { money } from "../../lib/money.js";
import type { Compensation, OrderStatus } from "./domain/order-status.js";
import type { PricedOrder } from "./domain/pricing.js";
import { type CustomerRow, type OrderItemRow, type OrderRow } from "./entities.js";
import { findCustomer, findItems } from "./order-store.js";
import type { AddressData } from "./domain/address.js";

/** The order events, written to the outbox on the caller's transaction. */

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
 * Publishes the event that announces `after.status`, if that status has one. RESERVED has no
 * order event (inventory.reserved already says it). DELIVERY_FAILED publishes
 * order.delivery_failed only when the state machine owes a compensation (refund and restock).
 */
export async function publishTransition(
  em: EntityManager,
  before: OrderStatus,
  after: OrderRow,
  reason: string,
  details: TransitionDetails = {},
  compensation?: Compensation,
): Promise<void> {
  const head = { orderId: after.id, customerId: after.customerId, occurredAt: timestampNow() };
  const options = { aggregateId: after.id };
  switch (after.status) {
    case "CONFIRMED": {
      const items: OrderItemRow[] = await findItems(em, [after.id]);
      // The invoice names the customer; carrying them here spares the file service a wait for order.created.
      const customer = await findCustomer(em, after.customerId);
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
          customerName: customer?.name ?? "",
          customerEmail: customer?.email ?? "",
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
    case "DELIVERY_FAILED":
      if (!compensation) return;
      await enqueue(em, OrderDeliveryFailedSchema, { ...head, reason, deliveryId: details.delivery?.deliveryId ?? "", previousStatus: before }, options);
      return;
    case "PENDING":
    case "RESERVED":
      return;
  }
}
