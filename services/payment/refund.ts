import type { EntityManager } from "@mikro-orm/postgresql";
import { canTransition, planRefund } from "./domain/payment.js";
import type { PaymentRow, RefundRow } from "./entities.js";
import * as store from "./payment-store.js";
import type { PaymentProvider } from "./provider/index.js";

/** The provider idempotency key of the `seq`-th refund of an order's payment. */
export function refundKey(orderId: string, seq: number): string {
  return `refund:${orderId}:${seq}`;
}

export type RefundOutcome = { kind: "refunded"; payment: PaymentRow; refund: RefundRow } | { kind: "rejected"; reason: string };

/**
 * Refunds `requestedMinor` of a payment (undefined: everything still refundable) at the
 * provider and records it. `payment` must be locked (findPaymentOfOrder with lock, under
 * lockOrder).
 *
 * The refund row is inserted before money moves, so a database that cannot record the refund
 * fails it before the provider is asked; only the provider's reference is filled in after its
 * answer, in the same transaction. The provider key `refund:<order_id>:<seq>` is deterministic:
 * a retry after a crash between the provider's answer and the commit gets the same refund.
 */
export async function refundPayment(
  em: EntityManager,
  provider: PaymentProvider,
  payment: PaymentRow,
  requestedMinor: bigint | undefined,
  reason: string,
): Promise<RefundOutcome> {
  const plan = planRefund({ status: payment.status, amountMinor: payment.amountMinor, refundedMinor: payment.refundedMinor ?? 0n }, requestedMinor);
  if (!plan.ok) return { kind: "rejected", reason: plan.reason };
  if (!canTransition(payment.status, plan.status)) return { kind: "rejected", reason: `payment is ${payment.status}` };
  const row = await store.startRefund(em, payment, plan.amountMinor, reason);
  const answer = await provider.refund({
    idempotencyKey: refundKey(payment.orderId, row.seq),
    chargeReference: payment.providerReference!,
    amountMinor: plan.amountMinor,
  });
  await store.completeRefund(em, payment, row, answer.reference, plan);
  return { kind: "refunded", payment, refund: row };
}
