import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import type { AddressData } from "./domain/address.js";
import { DELIVERY_STATUSES } from "./domain/delivery-status.js";
import { createdAtColumn, updatedAtColumn } from "../../lib/db/timestamps.js";

/** The shipment of one order (see migrations/0001 for the constraints). */
export const Delivery = defineEntity({
  name: "Delivery",
  tableName: "deliveries",
  properties: {
    id: p.uuid().primary(),
    orderId: p.uuid().unique().fieldName("order_id"),
    customerId: p.text().default("").fieldName("customer_id"),
    // Empty ({}) only for the tombstone of an order cancelled before it was confirmed.
    address: p.json<Partial<AddressData>>(),
    status: p.enum([...DELIVERY_STATUSES]),
    carrier: p.text().default(""),
    trackingNumber: p.text().default("").fieldName("tracking_number"),
    createdAt: createdAtColumn(),
    updatedAt: updatedAtColumn(),
    // The order saga's traceparent when the delivery was created (see migrations/0002).
    traceParent: p.text().nullable().fieldName("trace_parent"),
  },
});

/** One entry of a delivery's status history. */
export const DeliveryLog = defineEntity({
  name: "DeliveryLog",
  tableName: "delivery_logs",
  properties: {
    id: p.uuid().primary(),
    deliveryId: p.uuid().fieldName("delivery_id"),
    status: p.enum([...DELIVERY_STATUSES]),
    notes: p.text().default(""),
    at: p.datetime().onCreate(() => new Date()),
  },
});

export type DeliveryRow = InferEntity<typeof Delivery>;
export type DeliveryLogRow = InferEntity<typeof DeliveryLog>;

export const entities = [Delivery, DeliveryLog];
