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
