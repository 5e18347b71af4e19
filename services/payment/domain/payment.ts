/**
 * Payment rules: status transitions, refund arithmetic and the saga decisions. Pure functions,
 * no I/O; amounts are bigint minor units (lib/money), of the payment's one currency.
 */

/** Status of a payment row. PENDING exists in the API but is never stored: a charge is recorded with its answer. */
export type PaymentStatus = "PENDING" | "COMPLETED" | "FAILED" | "REFUNDED" | "PARTIALLY_REFUNDED";

/**
 * Status of the payment intent the saga keeps per order (from order.created):
 * PENDING (waiting for inventory.reserved, token held), AWAITING_ORDER (inventory.reserved came
 * first: order.created brings the token and charges at once), CHARGED / FAILED (the saga's
 * answer was published), CANCELLED (the order ended first; a late event charges nothing).
 */
export type IntentStatus = "PENDING" | "AWAITING_ORDER" | "CHARGED" | "FAILED" | "CANCELLED";

/** Failure reasons the service sets itself (providers add their own, e.g. card_declined). */
export const FailureReason = {
  PROVIDER_UNAVAILABLE: "provider_unavailable",
  PROVIDER_TIMEOUT: "provider_timeout",
  MISSING_PAYMENT_METHOD: "missing_payment_method",
  PAYMENT_REFUNDED: "payment_refunded",
} as const;

const TRANSITIONS: Readonly<Record<PaymentStatus, readonly PaymentStatus[]>> = {
  PENDING: ["COMPLETED", "FAILED"],
  COMPLETED: ["PARTIALLY_REFUNDED", "REFUNDED"],
  PARTIALLY_REFUNDED: ["PARTIALLY_REFUNDED", "REFUNDED"],
  FAILED: [],
  REFUNDED: [],
};

/** True if a payment may go from `from` to `to`. FAILED and REFUNDED are final. */
export function canTransition(from: PaymentStatus, to: PaymentStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export interface RefundablePayment {
  status: PaymentStatus;
  amountMinor: bigint;
  refundedMinor: bigint;
}

/** True for the statuses money can be returned from. */
export function isRefundable(status: PaymentStatus): boolean {
  return status === "COMPLETED" || status === "PARTIALLY_REFUNDED";
}

/** What can still be refunded: the amount minus the refunds, 0 when nothing was charged or everything was returned. */
export function remainingRefundable(payment: RefundablePayment): bigint {
  const remaining = payment.amountMinor - payment.refundedMinor;
  return isRefundable(payment.status) && remaining > 0n ? remaining : 0n;
}

/** The status after refunds totalling `refundedMinor` of a charge of `amountMinor`. */
export function statusAfterRefund(amountMinor: bigint, refundedMinor: bigint): "REFUNDED" | "PARTIALLY_REFUNDED" {
  return refundedMinor >= amountMinor ? "REFUNDED" : "PARTIALLY_REFUNDED";
}

export type RefundPlan = { ok: true; amountMinor: bigint; refundedMinor: bigint; status: "REFUNDED" | "PARTIALLY_REFUNDED" } | { ok: false; reason: string };

/**
 * A refund of `requestedMinor` (undefined: everything still refundable): how much, and the
 * payment's refunded total and status afterwards; or why it is not possible.
 */
export function planRefund(payment: RefundablePayment, requestedMinor?: bigint): RefundPlan {
  if (!isRefundable(payment.status)) {
    return { ok: false, reason: `payment is ${payment.status}; only COMPLETED or PARTIALLY_REFUNDED payments can be refunded` };
  }
  const remaining = remainingRefundable(payment);
  const amountMinor = requestedMinor ?? remaining;
  if (amountMinor <= 0n) return { ok: false, reason: "the refund amount must be positive" };
  if (amountMinor > remaining) return { ok: false, reason: `refund of ${amountMinor} exceeds the ${remaining} still refundable` };
  const refundedMinor = payment.refundedMinor + amountMinor;
  return { ok: true, amountMinor, refundedMinor, status: statusAfterRefund(payment.amountMinor, refundedMinor) };
}

/** What inventory.reserved does for an order, given its intent. */
export type ChargeStep =
  /** order.created has not been handled yet: record AWAITING_ORDER, and order.created charges. */
  | "await-order"
  | "charge"
  /** Already seen (AWAITING_ORDER), answered (CHARGED / FAILED) or the order ended (CANCELLED): nothing to do. */
  | "skip";

export function chargeStep(intent: IntentStatus | undefined): ChargeStep {
  if (intent === undefined) return "await-order";
  return isChargeable(intent) ? "charge" : "skip";
}

/**
 * True while an intent waits for the saga's answer (PENDING or AWAITING_ORDER): only an open
 * intent is settled (charged, failed, cancelled). A settled intent never changes again, so a
 * late or repeated event cannot undo what was answered.
 */
export function isOpen(intent: IntentStatus | undefined): boolean {
  return intent === "PENDING" || intent === "AWAITING_ORDER";
}

/** The status of a settled intent: the saga answered (CHARGED / FAILED) or the order ended first (CANCELLED). */
export type SettledIntentStatus = Exclude<IntentStatus, "PENDING" | "AWAITING_ORDER">;

/** The parts of an intent that settling changes. */
export interface SettlingIntent {
  status: IntentStatus;
  token: string | null;
  paymentId: string | null;
}

/**
 * `intent` once settled as `status` (with the payment that answered it, if any): an open intent
 * takes the status and drops its token; a settled one stays as it is.
 */
export function settle<T extends SettlingIntent>(intent: T, status: SettledIntentStatus, paymentId?: string): T {
  if (!isOpen(intent.status)) return intent;
  return { ...intent, status, token: null, paymentId: paymentId ?? intent.paymentId };
}

/** True if the intent can be charged now: open, with the token and total of order.created (PENDING). */
export function isChargeable(intent: IntentStatus | undefined): boolean {
  return intent === "PENDING";
}

/** What order.created does, given the order's intent. */
export type IntentStep =
  /** Store the intent (PENDING) and wait for inventory.reserved. */
  | "record"
  /** inventory.reserved came first: store the token and total and charge now. */
  | "record-and-charge"
  /** A redelivery, or the order ended first (CANCELLED tombstone): nothing to do. */
  | "skip";

export function intentStep(intent: IntentStatus | undefined): IntentStep {
  if (intent === undefined) return "record";
  return intent === "AWAITING_ORDER" ? "record-and-charge" : "skip";
}

/** The saga event a stored payment answers inventory.reserved with. */
export type SagaOutcome = { event: "completed" } | { event: "failed"; reason: string };

export function sagaOutcome(payment: { status: PaymentStatus; failureReason?: string | null }): SagaOutcome {
  switch (payment.status) {
    case "COMPLETED":
    case "PARTIALLY_REFUNDED":
      return { event: "completed" };
    case "REFUNDED":
      return { event: "failed", reason: FailureReason.PAYMENT_REFUNDED };
    case "FAILED":
      return { event: "failed", reason: payment.failureReason || "payment_failed" };
    case "PENDING":
      throw new Error("a PENDING payment has no outcome yet");
  }
}

/** The intent status once the saga answered with `outcome`. */
export function intentAfter(outcome: SagaOutcome): "CHARGED" | "FAILED" {
  return outcome.event === "completed" ? "CHARGED" : "FAILED";
}

/** What to do when an order ends (cancelled, expired, rejected). */
export interface OrderEndPlan {
  /** Refund what is still refundable. */
  refund: boolean;
  /**
   * tombstone: no intent yet, write a CANCELLED one so a late order.created / inventory.reserved
   * charges nothing; cancel: a PENDING or AWAITING_ORDER intent becomes CANCELLED; keep: already settled.
   */
  intent: "tombstone" | "cancel" | "keep";
}

export function onOrderEnded(intent: IntentStatus | undefined, payment: RefundablePayment | undefined): OrderEndPlan {
  return {
    refund: payment !== undefined && remainingRefundable(payment) > 0n,
    intent: intent === undefined ? "tombstone" : isOpen(intent) ? "cancel" : "keep",
  };
}

/**
 * True if a charge whose provider stayed unreachable ends the saga now (recorded FAILED,
 * retryable) instead of being retried: this was the consumer's last attempt.
 */
export function givesUpOnProvider(deliveryCount: number, maxDeliver: number): boolean {
  return deliveryCount >= maxDeliver;
}

/** The failure reason recorded when the provider stays unreachable through every retry. */
export function outageReason(timedOut: boolean): string {
  return timedOut ? FailureReason.PROVIDER_TIMEOUT : FailureReason.PROVIDER_UNAVAILABLE;
}
