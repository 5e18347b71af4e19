import { Code, ServiceError } from "../../../lib/errors.js";
import type { Money } from "../../../lib/money.js";

/**
 * The payment provider as the payment service sees it. A real provider (Stripe, Adyen, ...)
 * would sit behind this interface; here it is `SimulatedProvider`.
 *
 * Contract:
 * - An answer is a business outcome: a charge `succeeded` or was `declined` (not an error).
 * - A transient problem (provider down, timed out) is THROWN as a ServiceError with code
 *   UNAVAILABLE or DEADLINE_EXCEEDED, so the circuit breaker counts it and callers retry.
 * - A request the provider refuses as such (unknown charge, refund above the charge, an
 *   idempotency key reused with other parameters) is thrown as `ProviderRejectedError`
 *   (FAILED_PRECONDITION): a bug on our side, not an outage.
 * - Idempotency keys are honoured like a real provider does: the same key with the same
 *   parameters returns the first result and never charges or refunds twice.
 */
export interface PaymentProvider {
  charge(request: ChargeRequest, options?: ProviderCallOptions): Promise<ChargeResult>;
  refund(request: RefundRequest, options?: ProviderCallOptions): Promise<RefundResult>;
}

export interface ChargeRequest {
  idempotencyKey: string;
  /** What to charge; amount_minor > 0. */
  amount: Money;
  /** Provider-issued card token. Never log it. */
  token: string;
}

export type ChargeResult = { status: "succeeded"; reference: string; last4: string } | { status: "declined"; reason: string; last4?: string };

export interface RefundRequest {
  idempotencyKey: string;
  /** The provider reference of the charge being refunded. */
  chargeReference: string;
  /** Minor units of the charge's currency, > 0. */
  amountMinor: bigint;
}

export interface RefundResult {
  reference: string;
}

export interface ProviderCallOptions {
  /** Aborted when the caller stops waiting (the call's deadline passed). */
  signal?: AbortSignal;
}

/** The provider could not be reached or answered with a server error; retry later. */
export class ProviderUnavailableError extends ServiceError {
  constructor(message = "payment provider unavailable") {
    super(Code.UNAVAILABLE, message);
    this.name = "ProviderUnavailableError";
  }
}

/** The provider did not answer before the call's deadline; retry later (with the same idempotency key). */
export class ProviderTimeoutError extends ServiceError {
  constructor(message = "payment provider timed out") {
    super(Code.DEADLINE_EXCEEDED, message);
    this.name = "ProviderTimeoutError";
  }
}

/** The provider refused the request itself; retrying the same request cannot help. */
export class ProviderRejectedError extends ServiceError {
  constructor(message: string) {
    super(Code.FAILED_PRECONDITION, `payment provider rejected the request: ${message}`);
    this.name = "ProviderRejectedError";
  }
}
