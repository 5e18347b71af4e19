import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import { createdAtColumn, updatedAtColumn } from "../../lib/db/timestamps.js";

/** A charge for one order (see migrations/0001 for the constraints). Never holds the card token. */
export const Payment = defineEntity({
  name: "Payment",
  tableName: "payments",
  properties: {
    id: p.uuid().primary(),
    orderId: p.uuid().unique().fieldName("order_id"),
    customerId: p.text().default("").fieldName("customer_id"),
    amountMinor: p.bigint("bigint").fieldName("amount_minor"),
    currency: p.character().length(3),
    status: p.enum(["PENDING", "COMPLETED", "FAILED", "REFUNDED", "PARTIALLY_REFUNDED"] as const),
    cardLast4: p.text().nullable().fieldName("card_last4"),
    tokenFingerprint: p.text().nullable().fieldName("token_fingerprint"),
    providerReference: p.text().nullable().fieldName("provider_reference"),
    failureReason: p.text().nullable().fieldName("failure_reason"),
    refundedMinor: p.bigint("bigint").default(0).fieldName("refunded_minor"),
    createdAt: createdAtColumn(),
    updatedAt: updatedAtColumn(),
  },
});

/** Money given back for a payment; `seq` numbers the refunds of one payment from 1. */
export const Refund = defineEntity({
  name: "Refund",
  tableName: "refunds",
  properties: {
    id: p.uuid().primary(),
    paymentId: p.uuid().fieldName("payment_id"),
    seq: p.integer(),
    amountMinor: p.bigint("bigint").fieldName("amount_minor"),
    reason: p.text().default(""),
    providerReference: p.text().fieldName("provider_reference"),
    createdAt: createdAtColumn(),
  },
});

/** What the saga remembers about an order between order.created and inventory.reserved. */
export const PaymentIntent = defineEntity({
  name: "PaymentIntent",
  tableName: "payment_intents",
  properties: {
    orderId: p.uuid().primary().fieldName("order_id"),
    customerId: p.text().default("").fieldName("customer_id"),
    amountMinor: p.bigint("bigint").nullable().fieldName("amount_minor"),
    currency: p.character().length(3).nullable(),
    /** The provider token, only while PENDING. Never log it. */
    token: p.text().nullable().lazy(),
    tokenFingerprint: p.text().nullable().fieldName("token_fingerprint"),
    status: p.enum(["PENDING", "CHARGED", "FAILED", "CANCELLED"] as const),
    paymentId: p.uuid().nullable().fieldName("payment_id"),
    createdAt: createdAtColumn(),
    updatedAt: updatedAtColumn(),
  },
});

export type PaymentRow = InferEntity<typeof Payment>;
export type RefundRow = InferEntity<typeof Refund>;
export type PaymentIntentRow = InferEntity<typeof PaymentIntent>;

export const entities = [Payment, Refund, PaymentIntent];
