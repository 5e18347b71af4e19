import type { Address } from "../../gen/shop/common/v1/common_pb.js";
import { invalidArgument } from "../../lib/errors.js";
import type { AddressData } from "./domain/address.js";

function optional(field: string, value: string, max: number): string {
  const trimmed = value.trim();
  if (trimmed.length > max) throw invalidArgument(field, `must be at most ${max} characters`);
  return trimmed;
}

function required(field: string, value: string, max: number): string {
  const trimmed = optional(field, value, max);
  if (trimmed === "") throw invalidArgument(field, "is required");
  return trimmed;
}

/**
 * A shipping address: line1, city, country_code (ISO 3166-1 alpha-2, upper case) and
 * recipient_name are required; every failure is INVALID_ARGUMENT naming the field.
 */
export function requireAddress(field: string, address: Address | undefined): AddressData {
  if (!address) throw invalidArgument(field, "is required");
  const countryCode = address.countryCode.trim();
  if (!/^[A-Z]{2}$/.test(countryCode)) throw invalidArgument(`${field}.country_code`, "must be an ISO 3166-1 alpha-2 code such as DE");
  return {
    line1: required(`${field}.line1`, address.line1, 200),
    line2: optional(`${field}.line2`, address.line2, 200),
    city: required(`${field}.city`, address.city, 100),
    region: optional(`${field}.region`, address.region, 100),
    postalCode: optional(`${field}.postal_code`, address.postalCode, 20),
    countryCode,
    recipientName: required(`${field}.recipient_name`, address.recipientName, 200),
    phone: optional(`${field}.phone`, address.phone, 32),
  };
}

/** Optional free text: trimmed, at most `max` characters. */
export function optionalText(field: string, value: string, max: number): string {
  return optional(field, value, max);
}
