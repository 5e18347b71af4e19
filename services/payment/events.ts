import { timestampNow } from "@bufbuild/protobuf/wkt";
import type { EntityManager } from "@mikro-orm/postgresql";
import { PaymentCompletedSchema, PaymentFailedSchema, PaymentRefundedSchema } from "../../gen/shop/events/v1/payment_events_pb.js";
import { enqueue } from "../../lib/events/index.js";
import { money } from "../../lib/money.js";
import type { PaymentRow, RefundRow } from "./entities.js";

/** The payment events, written to the outbox on the caller's transaction (aggregate: the order). */

export function publishCompleted(em: EntityManager, payment: PaymentRow): Promise<string> {
  return enqueue(
    em,
    PaymentCompletedSchema,
    {
      orderId: payment.orderId,
      customerId: payment.customerId,
      occurredAt: timestampNow(),
      paymentId: payment.id,
      amount: money(payment.currency, payment.amountMinor),
      cardLast4: payment.cardLast4 ?? "",
    },
    { aggregateId: payment.orderId },
  );
}

export function publishFailed(em: EntityManager, payment: PaymentRow, reason: string, retryable: boolean): Promise<string> {
  return enqueue(
    em,
    PaymentFailedSchema,
    { orderId: payment.orderId, customerId: payment.customerId, occurredAt: timestampNow(), paymentId: payment.id, reason, retryable },
    { aggregateId: payment.orderId },
  );
}

export function publishRefunded(em: EntityManager, payment: PaymentRow, refund: RefundRow): Promise<string> {
  return enqueue(
    em,
    PaymentRefundedSchema,
    {
      orderId: payment.orderId,
      customerId: payment.customerId,
      occurredAt: timestampNow(),
      paymentId: payment.id,
      refundId: refund.id,
      amount: money(payment.currency, refund.amountMinor),
      reason: refund.reason,
    },
    { aggregateId: payment.orderId },
  );
}
