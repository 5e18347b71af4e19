import { isMessage, type Message } from "@bufbuild/protobuf";
import { DeliveryStatus } from "../../gen/shop/delivery/v1/delivery_pb.js";
import { DeliveryCreatedSchema, DeliveryStatusChangedSchema } from "../../gen/shop/events/v1/delivery_events_pb.js";
import { FileInvoiceGeneratedSchema } from "../../gen/shop/events/v1/file_events_pb.js";
import {
  InventoryInsufficientSchema,
  InventoryLowStockSchema,
  InventoryReleasedSchema,
  InventoryReservedSchema,
  ReleaseReason,
} from "../../gen/shop/events/v1/inventory_events_pb.js";
import { NotificationFailedSchema, NotificationSentSchema } from "../../gen/shop/events/v1/notification_events_pb.js";
import {
  type EventOrderLine,
  OrderCancelledSchema,
  OrderConfirmedSchema,
  OrderCreatedSchema,
  OrderDeliveredSchema,
  OrderExpiredSchema,
  OrderPaymentFailedSchema,
  OrderRejectedSchema,
  OrderShippedSchema,
} from "../../gen/shop/events/v1/order_events_pb.js";
import { PaymentCompletedSchema, PaymentFailedSchema, PaymentRefundedSchema } from "../../gen/shop/events/v1/payment_events_pb.js";
import { isUuid } from "../../lib/ids.js";
import { formatMoney, type Money } from "../../lib/money.js";
import { cutText } from "../../lib/text.js";
import { type CounterDelta, Metric } from "./domain/cohort.js";
import { type OrderProgress, type OrderStatusName, type StageName, withImpliedStages } from "./domain/order-progress.js";
import { minuteOf } from "./domain/window.js";

/** One domain event as analytics consumes it, whichever consumer delivered it. */
export interface AnalyticsEvent {
  /** The event id (event-id header), the unit of de-duplication. */
  eventId: string;
  /** Full message name, e.g. `shop.events.v1.OrderCreated`. */
  type: string;
  /** Subject below the root, e.g. `order.created`. */
  name: string;
  /** The publishing service (the event's aggregate: order, inventory, payment, ...). */
  service: string;
  /** The event's occurred_at (its receipt time when the publisher left it empty). */
  occurredAt: Date;
  /** Lower-case UUID, or null for events about no order (a stock adjustment's low_stock). */
  orderId: string | null;
  customerId: string;
  /** The decoded payload. */
  message: Message;
}

/** What a product row learns from an event. */
export interface ProductFact {
  productId: string;
  at: Date;
  name?: string;
  lowStock?: { available: number; threshold: number };
}

/** Units and revenue of a product in a confirmed order. */
export interface ProductSale {
  minute: Date;
  productId: string;
  currency: string;
  units: number;
  revenueMinor: bigint;
}

/** Everything one event contributes, derived without I/O. */
export interface EventFacts {
  summary: string;
  progress?: OrderProgress;
  counters: CounterDelta[];
  products: ProductFact[];
  sales: ProductSale[];
}

const MAX_DIM = 200;

function dim(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  // Half an emoji would make jsonb refuse the whole batch.
  return line.length > MAX_DIM ? `${cutText(line, MAX_DIM - 3)}...` : line;
}

function enumName(value: number, names: Record<number, string>): string {
  return names[value] ?? String(value);
}

/** An event's amount for the timeline, written as everywhere else (lib/money); "nothing" when the event has none. */
function amountText(amount: Money | undefined): string {
  return amount ? formatMoney(amount) : "nothing";
}

function units(lines: { quantity: number }[]): number {
  return lines.reduce((sum, line) => sum + line.quantity, 0);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * What an event says: a one-line summary for the timeline (no personal or payment data: no
 * address, e-mail, phone, token or free-text reason typed by a customer), the order's progress,
 * the counters it moves and what it tells about products.
 */
export function factsOf(event: AnalyticsEvent): EventFacts {
  const at = event.occurredAt;
  const minute = minuteOf(at);
  const counters: CounterDelta[] = [{ minute, metric: Metric.EVENTS, dim: event.name, value: 1n }];
  const products: ProductFact[] = [];
  const sales: ProductSale[] = [];
  let progress: OrderProgress | undefined;
  const reach = (options: { status?: OrderStatusName; stage?: StageName; created?: boolean; confirmed?: boolean }) => {
    if (!event.orderId) return;
    progress = {
      orderId: event.orderId,
      createdAt: options.created ? at : undefined,
      confirmedAt: options.confirmed ? at : undefined,
      status: options.status ? { name: options.status, at } : undefined,
      stages: options.stage ? withImpliedStages(options.stage) : 0,
    };
  };
  const count = (metric: string, d: string, value = 1n) => counters.push({ minute, metric, dim: d, value });
  const failure = (kind: string, reason: string) => count(`${Metric.FAILURE_PREFIX}${kind}`, dim(reason));
  const names = (lines: EventOrderLine[]) => {
    for (const line of lines)
      if (isUuid(line.productId) && line.productName) products.push({ productId: line.productId.toLowerCase(), at, name: line.productName });
  };

  const m = event.message;
  let summary: string;
  if (isMessage(m, OrderCreatedSchema)) {
    reach({ status: "PENDING", stage: "CREATED", created: true });
    names(m.lines);
    summary = `order placed: ${plural(units(m.lines), "unit")} of ${plural(m.lines.length, "product")}, total ${amountText(m.total)}`;
  } else if (isMessage(m, OrderConfirmedSchema)) {
    reach({ status: "CONFIRMED", stage: "PAID", confirmed: true });
    names(m.lines);
    for (const line of m.lines) {
      if (!isUuid(line.productId)) continue;
      const price = line.unitPrice?.amountMinor ?? 0n;
      sales.push({
        minute,
        productId: line.productId.toLowerCase(),
        currency: line.unitPrice?.currencyCode ?? m.total?.currencyCode ?? "",
        units: line.quantity,
        revenueMinor: price * BigInt(line.quantity),
      });
    }
    summary = `order confirmed: paid ${amountText(m.total)}`;
  } else if (isMessage(m, OrderRejectedSchema)) {
    reach({ status: "REJECTED" });
    failure("order_rejected", m.reason);
    summary = `order rejected: ${dim(m.reason) || "no reason given"}`;
  } else if (isMessage(m, OrderPaymentFailedSchema)) {
    reach({ status: "PAYMENT_FAILED" });
    summary = `order payment failed: ${dim(m.reason) || "no reason given"}`;
  } else if (isMessage(m, OrderCancelledSchema)) {
    reach({ status: "CANCELLED" });
    failure("order_cancelled", m.previousStatus);
    summary = `order cancelled while ${m.previousStatus || "in an unknown status"}${m.wasCharged ? "; a refund is due" : ""}`;
  } else if (isMessage(m, OrderExpiredSchema)) {
    reach({ status: "EXPIRED" });
    failure("order_expired", "");
    summary = "order expired: the reservation timed out before payment";
  } else if (isMessage(m, OrderShippedSchema)) {
    reach({ status: "SHIPPED" });
    summary = `order shipped${m.carrier ? ` with ${dim(m.carrier)}` : ""}${m.trackingNumber ? ` (tracking ${dim(m.trackingNumber)})` : ""}`;
  } else if (isMessage(m, OrderDeliveredSchema)) {
    reach({ status: "DELIVERED", stage: "DELIVERED" });
    summary = "order delivered";
  } else if (isMessage(m, InventoryReservedSchema)) {
    reach({ status: "RESERVED", stage: "RESERVED" });
    summary = `stock reserved: ${plural(units(m.lines), "unit")} of ${plural(m.lines.length, "product")}`;
  } else if (isMessage(m, InventoryInsufficientSchema)) {
    summary = `stock insufficient: ${dim(m.reason) || `${plural(m.shortages.length, "product")} short`}`;
  } else if (isMessage(m, InventoryReleasedSchema)) {
    const reason = enumName(m.reason, ReleaseReason).toLowerCase().replace(/_/g, " ");
    summary = `stock released (${reason}): ${plural(units(m.lines), "unit")}`;
  } else if (isMessage(m, InventoryLowStockSchema)) {
    const productId = m.productId.toLowerCase();
    if (isUuid(productId)) {
      count(Metric.LOW_STOCK, productId);
      products.push({ productId, at, lowStock: { available: m.available, threshold: m.threshold } });
    }
    summary = `product ${productId} low on stock: ${m.available} left (threshold ${m.threshold})`;
  } else if (isMessage(m, PaymentCompletedSchema)) {
    reach({ stage: "PAID" });
    const currency = m.amount?.currencyCode ?? "";
    count(Metric.CAPTURED, currency, m.amount?.amountMinor ?? 0n);
    count(Metric.PAYMENTS, currency);
    summary = `payment captured: ${amountText(m.amount)}`;
  } else if (isMessage(m, PaymentFailedSchema)) {
    failure("payment_failed", m.reason);
    summary = `payment failed: ${dim(m.reason) || "no reason given"}${m.retryable ? " (retryable)" : ""}`;
  } else if (isMessage(m, PaymentRefundedSchema)) {
    count(Metric.REFUNDED, m.amount?.currencyCode ?? "", m.amount?.amountMinor ?? 0n);
    summary = `payment refunded: ${amountText(m.amount)}`;
  } else if (isMessage(m, NotificationSentSchema)) {
    summary = `${m.channel || "notification"} sent`;
  } else if (isMessage(m, NotificationFailedSchema)) {
    failure("notification_failed", m.channel);
    summary = `${m.channel || "notification"} failed after ${plural(m.attempts, "attempt")}`;
  } else if (isMessage(m, FileInvoiceGeneratedSchema)) {
    summary = `invoice generated (${m.sizeBytes} bytes)`;
  } else if (isMessage(m, DeliveryCreatedSchema)) {
    summary = "delivery created";
  } else if (isMessage(m, DeliveryStatusChangedSchema)) {
    const to = enumName(m.toStatus, DeliveryStatus);
    if (m.toStatus === DeliveryStatus.FAILED) {
      reach({ status: "DELIVERY_FAILED" });
      failure("delivery_failed", "");
    }
    summary = `delivery ${enumName(m.fromStatus, DeliveryStatus)} -> ${to}${m.carrier ? ` with ${dim(m.carrier)}` : ""}`;
  } else {
    // A type added to the protos after this code: still on the timeline and in the event counts.
    summary = event.name.replace(/[._]/g, " ");
  }
  return { summary, progress, counters, products, sales };
}
