import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "@jest/globals";
import { CreateCustomerRequestSchema, CreateOrderRequestSchema, type CreateOrderRequest } from "../../gen/shop/order/v1/order_pb.js";
import { Code, ServiceError } from "../../lib/errors.js";
import { uuidv7 } from "../../lib/ids.js";
import { parseCreateCustomer, parseCreateOrder, requestHash } from "./validate.js";

const productA = uuidv7();
const productB = uuidv7();

interface Fields {
  customerId?: string;
  items?: { productId: string; quantity: number }[];
  shippingAddress?: Partial<Record<"line1" | "line2" | "city" | "region" | "postalCode" | "countryCode" | "recipientName" | "phone", string>>;
  paymentMethod?: { token: string };
  idempotencyKey?: string;
  currencyCode?: string;
}

const customerId = uuidv7();

function fields(overrides: Fields = {}): Fields {
  return {
    customerId,
    items: [
      { productId: productA, quantity: 2 },
      { productId: productB, quantity: 1 },
    ],
    shippingAddress: { line1: "Main St 1", city: "Berlin", postalCode: "10115", countryCode: "DE", recipientName: "Ada" },
    paymentMethod: { token: "tok_visa" },
    ...overrides,
  };
}

function request(overrides: Fields = {}): CreateOrderRequest {
  return create(CreateOrderRequestSchema, fields(overrides));
}

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ServiceError);
    expect((error as ServiceError).code).toBe(Code.INVALID_ARGUMENT);
    return (error as ServiceError).field;
  }
  throw new Error("expected INVALID_ARGUMENT");
}

describe("CreateOrder validation", () => {
  it("accepts a good request and normalizes it", () => {
    const command = parseCreateOrder(
      request({ shippingAddress: { line1: " Main St 1 ", city: "Berlin", countryCode: "de", recipientName: "Ada", phone: "+49 (30) 123-456" } }),
    );
    expect(command.shippingAddress).toMatchObject({ line1: "Main St 1", countryCode: "DE", phone: "+4930123456", postalCode: "" });
    expect(command.items).toHaveLength(2);
    expect(command.idempotencyKey).toBeUndefined();
    expect(command.currencyCode).toBeUndefined();
  });

  it.each([
    ["customer_id", { customerId: "" }],
    ["customer_id", { customerId: "nope" }],
    ["items", { items: [] }],
    ["items", { items: Array.from({ length: 101 }, () => ({ productId: uuidv7(), quantity: 1 })) }],
    ["items[0].product_id", { items: [{ productId: "x", quantity: 1 }] }],
    [
      "items[1].product_id",
      {
        items: [
          { productId: productA, quantity: 1 },
          { productId: productA, quantity: 2 },
        ],
      },
    ],
    ["items[0].quantity", { items: [{ productId: productA, quantity: 0 }] }],
    ["items[0].quantity", { items: [{ productId: productA, quantity: -1 }] }],
    ["items[0].quantity", { items: [{ productId: productA, quantity: 1001 }] }],
    ["shipping_address", { shippingAddress: undefined }],
    ["shipping_address.line1", { shippingAddress: { city: "Berlin", countryCode: "DE", recipientName: "Ada" } }],
    ["shipping_address.city", { shippingAddress: { line1: "x", countryCode: "DE", recipientName: "Ada" } }],
    ["shipping_address.country_code", { shippingAddress: { line1: "x", city: "y", recipientName: "Ada" } }],
    ["shipping_address.country_code", { shippingAddress: { line1: "x", city: "y", countryCode: "DEU", recipientName: "Ada" } }],
    ["shipping_address.recipient_name", { shippingAddress: { line1: "x", city: "y", countryCode: "DE" } }],
    ["shipping_address.phone", { shippingAddress: { line1: "x", city: "y", countryCode: "DE", recipientName: "Ada", phone: "call me" } }],
    ["shipping_address.postal_code", { shippingAddress: { line1: "x", city: "y", countryCode: "DE", recipientName: "Ada", postalCode: "1".repeat(21) } }],
    ["payment_method", { paymentMethod: undefined }],
    ["payment_method.token", { paymentMethod: { token: "  " } }],
    ["payment_method.token", { paymentMethod: { token: "t".repeat(201) } }],
    ["idempotency_key", { idempotencyKey: "k".repeat(201) }],
    ["idempotency_key", { idempotencyKey: "a\nb" }],
    ["currency_code", { currencyCode: "usd" }],
  ] as [string, Fields][])("names %s", (field, overrides) => {
    expect(fieldOf(() => parseCreateOrder(request(overrides)))).toBe(field);
  });

  it("never echoes the payment token", () => {
    const token = `secret_${"t".repeat(300)}`;
    try {
      parseCreateOrder(request({ paymentMethod: { token } }));
    } catch (error) {
      expect((error as Error).message).not.toContain("secret_");
    }
  });

  it("hashes the canonical request: same request same hash, any change another", () => {
    const hashOf = (overrides: Fields) => requestHash(parseCreateOrder(request(overrides)));
    const hash = hashOf({ idempotencyKey: "k1" });
    expect(hashOf({ idempotencyKey: "k2" })).toBe(hash);
    // Items in another order are the same request.
    expect(hashOf({ items: [...fields().items!].reverse() })).toBe(hash);
    expect(hashOf({ items: [{ productId: productA, quantity: 3 }] })).not.toBe(hash);
    expect(hashOf({ paymentMethod: { token: "tok_other" } })).not.toBe(hash);
    expect(hashOf({ currencyCode: "USD" })).not.toBe(hash);
    expect(hashOf({ customerId: uuidv7() })).not.toBe(hash);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe("CreateCustomer validation", () => {
  it("accepts and normalizes", () => {
    expect(parseCreateCustomer(create(CreateCustomerRequestSchema, { email: " Ada@Example.com ", name: " Ada ", phone: "+1 555 0100 123" }))).toEqual({
      email: "Ada@Example.com",
      name: "Ada",
      phone: "+15550100123",
    });
  });

  it.each([
    ["email", { email: "", name: "Ada" }],
    ["email", { email: "ada", name: "Ada" }],
    ["email", { email: "ada@example", name: "Ada" }],
    ["email", { email: "a da@example.com", name: "Ada" }],
    ["name", { email: "ada@example.com", name: " " }],
    ["phone", { email: "ada@example.com", name: "Ada", phone: "12" }],
  ])("names %s", (field, fields) => {
    expect(fieldOf(() => parseCreateCustomer(create(CreateCustomerRequestSchema, fields)))).toBe(field);
  });
});
