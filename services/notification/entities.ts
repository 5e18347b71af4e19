import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import { createdAtColumn, updatedAtColumn } from "../../lib/db/timestamps.js";

/** Contact details of an order's customer, kept from order.created for the order's later messages. */
export const OrderContact = defineEntity({
  name: "OrderContact",
  tableName: "notification_contacts",
  properties: {
    orderId: p.uuid().primary().fieldName("order_id"),
    customerId: p.text().default("").fieldName("customer_id"),
    name: p.text().default(""),
    // Validated and normalised; empty when unknown or invalid.
    email: p.text().default(""),
    phone: p.text().default(""),
    totalMinor: p.bigint("bigint").nullable().fieldName("total_minor"),
    currencyCode: p.character().length(3).nullable().fieldName("currency_code"),
    createdAt: createdAtColumn(),
  },
});

/** One message and the outcome of sending it (see migrations/0001 for the constraints). */
export const Notification = defineEntity({
  name: "Notification",
  tableName: "notification_log",
  properties: {
    id: p.uuid().primary(),
    orderId: p.uuid().nullable().fieldName("order_id"),
    customerId: p.text().default("").fieldName("customer_id"),
    channel: p.enum(["EMAIL", "SMS"] as const),
    recipient: p.text(),
    template: p.text().nullable(),
    subject: p.text().default(""),
    body: p.text(),
    status: p.enum(["PENDING", "SENT", "FAILED"] as const),
    attempts: p.integer().default(0),
    lastError: p.text().nullable().fieldName("last_error"),
    eventId: p.uuid().nullable().fieldName("event_id"),
    providerMessageId: p.text().nullable().fieldName("provider_message_id"),
    nextAttemptAt: p.datetime().nullable().fieldName("next_attempt_at"),
    createdAt: createdAtColumn(),
    updatedAt: updatedAtColumn(),
    sentAt: p.datetime().nullable().fieldName("sent_at"),
  },
});

export type NotificationRow = InferEntity<typeof Notification>;

export const entities = [OrderContact, Notification];
