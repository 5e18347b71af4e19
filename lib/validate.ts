import type { Money } from "../gen/shop/common/v1/common_pb.js";
import { invalidArgument } from "./errors.js";
import { isUuid } from "./ids.js";

/** Request validation shared by the services: each failure is INVALID_ARGUMENT naming the field. */

export const MAX_QUANTITY = 1_000_000;

export function requireId(field: string, value: string): string {
  if (value === "") throw invalidArgument(field, "is required");
  if (!isUuid(value)) throw invalidArgument(field, `must be a UUID, got "${value.slice(0, 64)}"`);
  return value.toLowerCase();
}

/** Free text that may be empty: trimmed, at most `max` characters. */
export function optionalText(field: string, value: string, max: number): string {
  const trimmed = value.trim();
  if (trimmed.length > max) throw invalidArgument(field, `must be at most ${max} characters`);
  return trimmed;
}

/** Free text that must not be empty once trimmed; at most `max` characters. */
export function requireText(field: string, value: string, max: number): string {
  const trimmed = optionalText(field, value, max);
  if (trimmed === "") throw invalidArgument(field, "is required");
  return trimmed;
}

export function requireQuantity(field: string, value: number, { min = 1, max = MAX_QUANTITY } = {}): number {
  if (!Number.isInteger(value) || value < min || value > max) throw invalidArgument(field, `must be an integer from ${min} to ${max}, got ${value}`);
  return value;
}

export function requireMoney(field: string, money: Money | undefined): { currencyCode: string; amountMinor: number } {
  if (!money) throw invalidArgument(field, "is required");
  if (!/^[A-Z]{3}$/.test(money.currencyCode)) throw invalidArgument(`${field}.currency_code`, "must be an ISO 4217 code such as USD");
  if (money.amountMinor < 0n) throw invalidArgument(`${field}.amount_minor`, "must not be negative");
  if (money.amountMinor > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidArgument(`${field}.amount_minor`, "is too large");
  return { currencyCode: money.currencyCode, amountMinor: Number(money.amountMinor) };
}
