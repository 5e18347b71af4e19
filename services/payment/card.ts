import { createHash } from "node:crypto";
import { invalidArgument } from "../../lib/errors.js";

/**
 * Card data rules: ordermesh never sees card numbers, only the provider's token. The token is
 * kept only while a charge is pending (payment_intents.token, wiped when the intent settles),
 * never logged, never returned; payments keep its fingerprint and the card's last four digits.
 */

export const MAX_TOKEN_LENGTH = 255;

/** The stored "token reference": the first 12 hex digits of sha256(token). Not reversible. */
export function tokenFingerprint(token: string): string {
  return createHash("sha256").update(token).digest("hex").slice(0, 12);
}

/** Validates a payment token without ever echoing it in the error. */
export function requireToken(field: string, token: string | undefined): string {
  const value = token?.trim() ?? "";
  if (value === "") throw invalidArgument(field, "is required");
  if (value.length > MAX_TOKEN_LENGTH) throw invalidArgument(field, `must be at most ${MAX_TOKEN_LENGTH} characters`);
  if (!/^[\x21-\x7e]+$/.test(value)) throw invalidArgument(field, "must be printable ASCII without spaces");
  return value;
}

/** The token of an event, or undefined when it is missing or malformed (the charge then fails). */
export function tokenOf(token: string | undefined): string | undefined {
  const value = token?.trim() ?? "";
  return value !== "" && value.length <= MAX_TOKEN_LENGTH && /^[\x21-\x7e]+$/.test(value) ? value : undefined;
}
