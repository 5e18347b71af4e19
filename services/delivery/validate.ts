import type { Address } from "../../gen/shop/common/v1/common_pb.js";
import { invalidArgument } from "../../lib/errors.js";
import { optionalText, requireText } from "../../lib/validate.js";
import type { AddressData } from "./domain/address.js";

/**
 * A shipping address: line1, city, country_code (ISO 3166-1 alpha-2, upper case) and
 * recipient_name are required; every failure is INVALID_ARGUMENT naming the field.
 */
export function requireAddress(field: string, address: Address | undefined): AddressData {
  if (!address) throw invalidArgument(field, "is required");
  const countryCode = address.countryCode.trim();
  if (!/^[A-Z]{2}$/.test(countryCode)) throw invalidArgument(`${field}.country_code`, "must be an ISO 3166-1 alpha-2 code such as DE");
  return {
    line1: requireText(`${field}.line1`, address.line1, 200),
    line2: optionalText(`${field}.line2`, address.line2, 200),
    city: requireText(`${field}.city`, address.city, 100),
    region: optionalText(`${field}.region`, address.region, 100),
    postalCode: optionalText(`${field}.postal_code`, address.postalCode, 20),
    countryCode,
    recipientName: requireText(`${field}.recipient_name`, address.recipientName, 200),
    phone: optionalText(`${field}.phone`, address.phone, 32),
  };
}
