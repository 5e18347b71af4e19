import { Code, isInfrastructureCode, ServiceError, unavailable } from "../../../lib/errors.js";
import { cutText, storableText } from "../../../lib/text.js";
import type { ChannelName } from "../domain/recipients.js";

/** One message to hand to a provider. */
export interface OutgoingMessage {
  channel: ChannelName;
  /** E-mail address (EMAIL) or E.164 number (SMS), already validated. */
  recipient: string;
  /** Empty for SMS. */
  subject: string;
  body: string;
  /** Stable across retries of the same notification (its id), so a provider can drop duplicates. */
  idempotencyKey: string;
}

/**
 * An e-mail or SMS gateway. `send` resolves once the provider accepted the message; it rejects
 * with `transientFailure` (worth retrying; counts against the provider's circuit breaker) or
 * `permanentFailure` (the provider refused this message for good, e.g. an unknown mailbox).
 */
export interface MessageProvider {
  readonly channel: ChannelName;
  send(message: OutgoingMessage): Promise<{ providerMessageId: string }>;
}

/** The provider is unreachable or failed temporarily (UNAVAILABLE: counted by the breaker). */
export function transientFailure(message: string): ServiceError {
  return unavailable(message);
}

/** The provider refused the message and will refuse it again (FAILED_PRECONDITION: not counted by the breaker). */
export function permanentFailure(message: string): ServiceError {
  return new ServiceError(Code.FAILED_PRECONDITION, message);
}

/** True for a failure a retry cannot fix: a ServiceError that is not about the infrastructure. */
export function isPermanentFailure(error: unknown): boolean {
  return error instanceof ServiceError && !isInfrastructureCode(error.code);
}

/** Longest failure text kept from a provider. */
export const MAX_FAILURE_TEXT = 2000;

/**
 * A provider's failure as notification_log.last_error and notification.failed keep it: its
 * message (else its name), made storable (NUL and unpaired surrogates become U+FFFD) and cut.
 * This is the provider's own text: one NUL in it would fail the write of every outcome
 * recorded with it.
 */
export function failureText(error: unknown): string {
  const text = error instanceof Error ? error.message || error.name : String(error);
  return cutText(storableText(text), MAX_FAILURE_TEXT);
}
