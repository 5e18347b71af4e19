import { createHash } from "node:crypto";
import type { Address } from "../../gen/shop/common/v1/common_pb.js";
import type { CreateCustomerRequest, CreateOrderRequest } from "../../gen/shop/order/v1/order_pb.js";
import { invalidArgument } from "../../lib/errors.js";
import { optionalText, requireId, requireQuantity, requireText } from "../../lib/validate.js";
import type { AddressData } from "./domain/address.js";

/** Limits of CreateOrder input. */
export const MAX_ITEMS = 100;
export const MAX_QUANTITY_PER_LINE = 1000;
export const MAX_TOKEN_LENGTH = 200;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 200;
export const MAX_REASON_LENGTH = 500;

/** A validated, normalized CreateOrder request. */
export interface PlaceOrderCommand {
  customerId: string;
  items: { productId: string; quantity: number }[];
  shippingAddress: AddressData;
  /** Provider token; never logged, never stored outside the order.created outbox event. */
  paymentToken: string;
  idempotencyKey?: string;
  currencyCode?: string;
}

/**
 * A phone number, E.164-ish: an optional leading +, then 6 to 15 digits; spaces, dots,
 * dashes and parentheses are accepted and removed.
 */
export function normalizePhone(field: string, value: string): string {
  const trimmed = value.trim();
  if (trimmed === "") return "";
  const compact = trimmed.replace(/[\s().-]/g, "");
  if (!/^\+?[0-9]{6,15}$/.test(compact)) throw invalidArgument(field, "must be a phone number such as +4930123456");
  return compact;
}

/** An email address: one @, no spaces, a dot in the domain; at most 254 characters. */
export function normalizeEmail(field: string, value: string): string {
  const email = requireText(field, value, 254);
  if (!/^[^\s@]+@[^\s@]+\.[^\s@.]+$/.test(email)) throw invalidArgument(field, "must be an email address such as ada@example.com");
  return email;
}

/**
 * The required fields follow shop.common.v1.Address: line1, city, country_code and
 * recipient_name; the rest may be empty.
 */
export function requireAddress(field: string, address: Address | undefined): AddressData {
  if (!address) throw invalidArgument(field, "is required");
  const countryCode = address.countryCode.trim().toUpperCase();
  if (countryCode === "") throw invalidArgument(`${field}.country_code`, "is required");
  if (!/^[A-Z]{2}$/.test(countryCode)) throw invalidArgument(`${field}.country_code`, "must be an ISO 3166-1 alpha-2 code such as DE");
  return {
    line1: requireText(`${field}.line1`, address.line1, 200),
    line2: optionalText(`${field}.line2`, address.line2, 200),
    city: requireText(`${field}.city`, address.city, 100),
    region: optionalText(`${field}.region`, address.region, 100),
    postalCode: optionalText(`${field}.postal_code`, address.postalCode, 20),
    countryCode,
    recipientName: requireText(`${field}.recipient_name`, address.recipientName, 200),
    phone: normalizePhone(`${field}.phone`, address.phone),
  };
}

/** Validates a CreateOrder request; every failure is INVALID_ARGUMENT naming the field. */
export function parseCreateOrder(request: CreateOrderRequest): PlaceOrderCommand {
  const customerId = requireId("customer_id", request.customerId);
  if (request.items.length === 0) throw invalidArgument("items", "must contain at least one item");
  if (request.items.length > MAX_ITEMS) throw invalidArgument("items", `must contain at most ${MAX_ITEMS} items`);
  const seen = new Map<string, number>();
  const items = request.items.map((item, i) => {
    const productId = requireId(`items[${i}].product_id`, item.productId);
    const first = seen.get(productId);
    if (first !== undefined) throw invalidArgument(`items[${i}].product_id`, `duplicates items[${first}]; order each product once`);
    seen.set(productId, i);
    return { productId, quantity: requireQuantity(`items[${i}].quantity`, item.quantity, { max: MAX_QUANTITY_PER_LINE }) };
  });
  const shippingAddress = requireAddress("shipping_address", request.shippingAddress);
  if (!request.paymentMethod) throw invalidArgument("payment_method", "is required");
  const paymentToken = request.paymentMethod.token.trim();
  if (paymentToken === "") throw invalidArgument("payment_method.token", "is required");
  // The message never echoes the token.
  if (paymentToken.length > MAX_TOKEN_LENGTH) throw invalidArgument("payment_method.token", `must be at most ${MAX_TOKEN_LENGTH} characters`);
  let idempotencyKey: string | undefined;
  if (request.idempotencyKey !== "") {
    if (request.idempotencyKey.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
      throw invalidArgument("idempotency_key", `must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
    }
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
    if (/[\u0000-\u001f\u007f]/.test(request.idempotencyKey)) throw invalidArgument("idempotency_key", "must not contain control characters");
    idempotencyKey = request.idempotencyKey;
  }
  let currencyCode: string | undefined;
  if (request.currencyCode !== "") {
    if (!/^[A-Z]{3}$/.test(request.currencyCode)) throw invalidArgument("currency_code", "must be an ISO 4217 code such as USD");
    currencyCode = request.currencyCode;
  }
  return { customerId, items, shippingAddress, paymentToken, idempotencyKey, currencyCode };
}

/**
 * SHA-256 of the canonical form of a request (everything but the idempotency key, items in
 * product order since each product appears once): equal for a retry of the same request.
 */
export function requestHash(command: PlaceOrderCommand): string {
  const address = command.shippingAddress;
  const canonical = [
    command.customerId,
    [...command.items].sort((a, b) => (a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0)).map((i) => [i.productId, i.quantity]),
    [address.line1, address.line2, address.city, address.region, address.postalCode, address.countryCode, address.recipientName, address.phone],
    command.paymentToken,
    command.currencyCode ?? "",
  ];
  return createHash("sha256").update(JSON.stringify(canonical)).digest("hex");
}

/** Validates a CreateCustomer request. */
export function parseCreateCustomer(request: CreateCustomerRequest): { email: string; name: string; phone: string } {
  return {
    email: normalizeEmail("email", request.email),
    name: requireText("name", request.name, 200),
    phone: normalizePhone("phone", request.phone),
  };
}

/** An optional free-text reason (CancelOrder). */
export function optionalReason(field: string, value: string): string {
  return optionalText(field, value, MAX_REASON_LENGTH);
}
