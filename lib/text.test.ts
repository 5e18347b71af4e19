import { describe, expect, it } from "@jest/globals";
import { create } from "@bufbuild/protobuf";
import { SendNotificationRequestSchema } from "../gen/shop/notification/v1/notification_pb.js";
import { CreateOrderRequestSchema } from "../gen/shop/order/v1/order_pb.js";
import { Code, ServiceError } from "./errors.js";
import { requireStorableMessage, textProblem } from "./text.js";

function failure(fn: () => void): ServiceError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ServiceError) return error;
    throw error;
  }
  throw new Error("expected a ServiceError");
}

describe("textProblem", () => {
  it("accepts ordinary text, emoji (surrogate pairs) and other control characters", () => {
    for (const ok of ["", "Ada Lovelace", "Straße 1 😀", "tab\there", "\u{10ffff}"]) expect(textProblem(ok)).toBeUndefined();
  });

  it("names a NUL character and unpaired surrogates, where they are", () => {
    expect(textProblem("ab\u0000")).toMatch(/NUL character \(U\+0000\), found at index 2/);
    expect(textProblem("\ud800")).toMatch(/unpaired surrogate at index 0/);
    expect(textProblem("x\udc00y")).toMatch(/unpaired surrogate at index 1/);
    expect(textProblem("😀\ud83d")).toMatch(/unpaired surrogate at index 2/);
  });
});

describe("requireStorableMessage", () => {
  it("names the field by its path: nested messages, list items, map entries", () => {
    const order = create(CreateOrderRequestSchema, {
      customerId: "c",
      items: [
        { productId: "p1", quantity: 1 },
        { productId: "p\u00002", quantity: 1 },
      ],
    });
    expect(failure(() => requireStorableMessage(CreateOrderRequestSchema, order))).toMatchObject({
      code: Code.INVALID_ARGUMENT,
      field: "items[1].product_id",
    });
    const address = create(CreateOrderRequestSchema, { shippingAddress: { line1: "1 Main St", city: "Spring\ud800field" } });
    expect(failure(() => requireStorableMessage(CreateOrderRequestSchema, address)).field).toBe("shipping_address.city");
    const notification = create(SendNotificationRequestSchema, { templateData: { name: "A\u0000" } });
    expect(failure(() => requireStorableMessage(SendNotificationRequestSchema, notification)).field).toBe('template_data["name"]');
    const key = create(SendNotificationRequestSchema, { templateData: { "k\u0000": "v" } });
    expect(failure(() => requireStorableMessage(SendNotificationRequestSchema, key)).field).toBe("template_data key");
  });

  it("passes messages whose strings are all storable, with a path prefix when given", () => {
    const order = create(CreateOrderRequestSchema, { customerId: "c", items: [{ productId: "p", quantity: 2 }] });
    expect(() => requireStorableMessage(CreateOrderRequestSchema, order)).not.toThrow();
    order.customerId = "\u0000";
    expect(failure(() => requireStorableMessage(CreateOrderRequestSchema, order, "orders[3]")).field).toBe("orders[3].customer_id");
  });
});
