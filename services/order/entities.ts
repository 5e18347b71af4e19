import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import { ORDER_STATUSES } from "./domain/order-status.js";
import type { AddressData } from "./domain/address.js";
import { createdAtColumn, updatedAtColumn } from "../../lib/db/timestamps.js";

/** A registered customer; emails are unique case-insensitively. `address` is their default shipping address. */
export const Customer = defineEntity({
  name: "Customer",
  tableName: "customers",
  properties: {
    id: p.uuid().primary(),
    email: p.text(),
    name: p.text(),
    phone: p.text().default(""),
    address: p.json<AddressData>().nullable(),
    createdAt: createdAtColumn(),
    updatedAt: updatedAtColumn(),
  },
});

/**
 * An order. Status changes are written with row locks and explicit SQL (order-store.ts) so
 * that the change, its history row and its events share one transaction; `version` counts them.
 */
export const Order = defineEntity({
  name: "Order",
  tableName: "orders",
  properties: {
    id: p.uuid().primary(),
    customerId: p.uuid().fieldName("customer_id"),
    status: p.enum([...ORDER_STATUSES]),
    currencyCode: p.character().length(3).fieldName("currency_code"),
    totalMinor: p.bigint("bigint").fieldName("total_minor"),
    shippingAddress: p.json<AddressData>().fieldName("shipping_address"),
    cardLast4: p.text().fieldName("card_last4").default(""),
    paymentId: p.text().fieldName("payment_id").default(""),
    refundedMinor: p.bigint("bigint").fieldName("refunded_minor").default(0),
    failureReason: p.text().fieldName("failure_reason").default(""),
    createdAt: createdAtColumn(),
    updatedAt: updatedAtColumn(),
    version: p.integer().version(),
  },
});

/** One line of an order, priced from the catalog when the order was placed. */
export const OrderItem = defineEntity({
  name: "OrderItem",
  tableName: "order_items",
  properties: {
    orderId: p.uuid().primary().fieldName("order_id"),
    productId: p.uuid().primary().fieldName("product_id"),
    position: p.smallint(),
    productName: p.text().fieldName("product_name"),
    quantity: p.integer(),
    unitPriceMinor: p.bigint("bigint").fieldName("unit_price_minor"),
    lineTotalMinor: p.bigint("bigint").fieldName("line_total_minor"),
  },
});

/** One status transition; `fromStatus` is null for the order's creation. */
export const OrderStatusHistory = defineEntity({
  name: "OrderStatusHistory",
  tableName: "order_status_history",
  properties: {
    id: p.bigint("number").primary(),
    orderId: p.uuid().fieldName("order_id"),
    fromStatus: p
      .enum([...ORDER_STATUSES])
      .nullable()
      .fieldName("from_status"),
    toStatus: p.enum([...ORDER_STATUSES]).fieldName("to_status"),
    reason: p.text(),
    eventId: p.uuid().nullable().fieldName("event_id"),
    changedAt: p.datetime().fieldName("changed_at"),
  },
});

/** A CreateOrder idempotency key, scoped to its customer. */
export const IdempotencyKey = defineEntity({
  name: "IdempotencyKey",
  tableName: "idempotency_keys",
  properties: {
    customerId: p.uuid().primary().fieldName("customer_id"),
    key: p.text().primary(),
    requestHash: p.text().fieldName("request_hash"),
    orderId: p.uuid().fieldName("order_id"),
    createdAt: p.datetime().fieldName("created_at"),
  },
});

export type CustomerRow = InferEntity<typeof Customer>;
export type OrderRow = InferEntity<typeof Order>;
export type OrderItemRow = InferEntity<typeof OrderItem>;
export type OrderStatusHistoryRow = InferEntity<typeof OrderStatusHistory>;
export type IdempotencyKeyRow = InferEntity<typeof IdempotencyKey>;

export const entities = [Customer, Order, OrderItem, OrderStatusHistory, IdempotencyKey];
