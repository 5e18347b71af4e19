import { DeliveryStatus } from "../../gen/shop/delivery/v1/delivery_pb.js";
import { StockStatus, ProductStatus } from "../../gen/shop/inventory/v1/inventory_pb.js";
import { NotificationStatus } from "../../gen/shop/notification/v1/notification_pb.js";
import { OrderStatus } from "../../gen/shop/order/v1/order_pb.js";
import { PaymentStatus } from "../../gen/shop/payment/v1/payment_pb.js";
import { Badge } from "./components/ui.js";
import { enumLabel } from "./format.js";

export type Tone = "good" | "bad" | "warn" | "neutral" | "info";
type Names = Record<number, string>;

/** Statuses after which an order never changes again. */
export const FINAL_ORDER_STATUSES = new Set([
  OrderStatus.REJECTED,
  OrderStatus.PAYMENT_FAILED,
  OrderStatus.CANCELLED,
  OrderStatus.EXPIRED,
  OrderStatus.DELIVERED,
  OrderStatus.DELIVERY_FAILED,
]);

/** Statuses in which the customer may still cancel. */
export const CANCELLABLE = new Set([OrderStatus.PENDING, OrderStatus.RESERVED, OrderStatus.CONFIRMED]);

/** Statuses that come with an invoice (the payment went through). */
export const INVOICED = new Set([OrderStatus.CONFIRMED, OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.DELIVERY_FAILED]);

const ORDER_TONES: Partial<Record<OrderStatus, Tone>> = {
  [OrderStatus.PENDING]: "info",
  [OrderStatus.RESERVED]: "info",
  [OrderStatus.CONFIRMED]: "good",
  [OrderStatus.SHIPPED]: "good",
  [OrderStatus.DELIVERED]: "good",
  [OrderStatus.REJECTED]: "bad",
  [OrderStatus.PAYMENT_FAILED]: "bad",
  [OrderStatus.DELIVERY_FAILED]: "bad",
  [OrderStatus.CANCELLED]: "neutral",
  [OrderStatus.EXPIRED]: "neutral",
};

/** The tone an order status is shown in (badges, the dashboard's bars). */
export function orderStatusTone(status: OrderStatus): Tone {
  return ORDER_TONES[status] ?? "neutral";
}

export function OrderStatusBadge({ status }: { status: OrderStatus }) {
  return <Badge tone={orderStatusTone(status)}>{enumLabel(OrderStatus as unknown as Names, status)}</Badge>;
}

export function StockBadge({ status, available }: { status: StockStatus; available?: number }) {
  if (status === StockStatus.IN_STOCK) return <Badge tone="good">In stock</Badge>;
  if (status === StockStatus.LOW_STOCK) return <Badge tone="warn">Low stock{available !== undefined ? ` · ${available} left` : ""}</Badge>;
  if (status === StockStatus.OUT_OF_STOCK) return <Badge tone="bad">Out of stock</Badge>;
  return <Badge tone="neutral">Unknown</Badge>;
}

export function ProductStatusBadge({ status }: { status: ProductStatus }) {
  const tone: Tone = status === ProductStatus.ACTIVE ? "good" : status === ProductStatus.DISCONTINUED ? "bad" : "neutral";
  return <Badge tone={tone}>{enumLabel(ProductStatus as unknown as Names, status)}</Badge>;
}

export function PaymentStatusBadge({ status }: { status: PaymentStatus }) {
  const tone: Tone = status === PaymentStatus.COMPLETED ? "good" : status === PaymentStatus.FAILED ? "bad" : status === PaymentStatus.PENDING ? "info" : "warn";
  return <Badge tone={tone}>{enumLabel(PaymentStatus as unknown as Names, status)}</Badge>;
}

export function DeliveryStatusBadge({ status }: { status: DeliveryStatus }) {
  const tone: Tone =
    status === DeliveryStatus.DELIVERED ? "good" : status === DeliveryStatus.FAILED ? "bad" : status === DeliveryStatus.IN_TRANSIT ? "info" : "neutral";
  return <Badge tone={tone}>{enumLabel(DeliveryStatus as unknown as Names, status)}</Badge>;
}

export function NotificationStatusBadge({ status }: { status: NotificationStatus }) {
  const tone: Tone = status === NotificationStatus.SENT ? "good" : status === NotificationStatus.FAILED ? "bad" : "info";
  return <Badge tone={tone}>{enumLabel(NotificationStatus as unknown as Names, status)}</Badge>;
}

export function orderStatusLabel(status: OrderStatus): string {
  return enumLabel(OrderStatus as unknown as Names, status);
}
