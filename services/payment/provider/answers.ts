import { cutText, storableText } from "../../../lib/text.js";
import type { ChargeResult, RefundResult } from "./provider.js";

/** Longest decline reason kept: it goes into payments, payment.failed, the order and the customer's message. */
export const MAX_DECLINE_REASON = 500;

const LAST4 = /^[0-9]{4}$/;

/**
 * A provider's charge answer as the service may store and publish it. The provider is outside
 * the RPC layer's checks, and what it says lands in rows (payments.card_last4 has a CHECK) and
 * events: its text is repaired (NUL and unpaired surrogates become U+FFFD), a decline reason is
 * cut to MAX_DECLINE_REASON, and last4 is kept only when it is four digits.
 */
export function storableCharge(result: ChargeResult): ChargeResult {
  const last4 = result.last4 && LAST4.test(result.last4) ? result.last4 : undefined;
  if (result.status === "succeeded") return { status: "succeeded", reference: storableText(result.reference), last4: last4 ?? "" };
  return { status: "declined", reason: cutText(storableText(result.reason), MAX_DECLINE_REASON), ...(last4 ? { last4 } : {}) };
}

/** A provider's refund answer as the service may store it (see `storableCharge`). */
export function storableRefund(result: RefundResult): RefundResult {
  return { reference: storableText(result.reference) };
}
