import type { EntityManager } from "@mikro-orm/postgresql";
import { money } from "../../lib/money.js";
import { FailureReason, outageReason } from "./domain/payment.js";
import type { PaymentRow } from "./entities.js";
import * as store from "./payment-store.js";
import type { PaymentProvider } from "./provider/index.js";

/** The provider idempotency key of an order's charge: a retry after a crash gets the same charge. */
export function chargeKey(orderId: string): string {
  return `charge:${orderId}`;
}

/**
 * Charges an order at the provider (idempotency key `charge:<order_id>`) and returns the answer
 * to record, COMPLETED or FAILED; without a token it fails at once, asking no one. Transient
 * provider failures (UNAVAILABLE, DEADLINE_EXCEEDED, circuit open) are thrown. Call with the
 * order locked and after checking that it has no payment yet.
 *
 * The provider is called inside the caller's transaction, holding the order lock. That is safe
 * only because of the key: if the process dies after the provider charged and before the
 * commit, the retry calls again with the same key and gets the same charge back, not a second.
 */
export async function askProvider(provider: PaymentProvider, input: store.ChargeInput): Promise<store.ChargeAnswer> {
  if (!input.token) return { status: "FAILED", failureReason: FailureReason.MISSING_PAYMENT_METHOD };
  const result = await provider.charge({ idempotencyKey: chargeKey(input.orderId), amount: money(input.currency, input.amountMinor), token: input.token });
  if (result.status === "succeeded") return { status: "COMPLETED", cardLast4: result.last4 || null, providerReference: result.reference };
  return { status: "FAILED", cardLast4: result.last4 || null, failureReason: result.reason };
}

/** Charges an order (see `askProvider`) and records the answer as its payment. */
export async function chargeOrder(em: EntityManager, provider: PaymentProvider, input: store.ChargeInput): Promise<PaymentRow> {
  return store.recordPayment(em, input, await askProvider(provider, input));
}

/** The answer recorded without the provider's: it stayed unreachable (timed out or down) on every attempt. */
export function outageAnswer(timedOut: boolean): store.ChargeAnswer {
  return { status: "FAILED", failureReason: outageReason(timedOut) };
}
