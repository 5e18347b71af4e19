import { describe, expect, it } from "@jest/globals";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { StructSchema, ValueSchema } from "@bufbuild/protobuf/wkt";
import { OrderCreatedSchema, OrderRejectedSchema } from "../gen/shop/events/v1/order_events_pb.js";
import { PaymentFailedSchema } from "../gen/shop/events/v1/payment_events_pb.js";
import { SendNotificationRequestSchema } from "../gen/shop/notification/v1/notification_pb.js";
import { CreateOrderRequestSchema } from "../gen/shop/order/v1/order_pb.js";
import { Code, ServiceError } from "./errors.js";
import { isUuid, uuidv7 } from "./ids.js";
import { cutText, makeStorable, requireStorableMessage, storableText, textProblem } from "./text.js";

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

  it("finds a string in the set case of a oneof", () => {
    const struct = create(StructSchema, {
      fields: { ok: { kind: { case: "stringValue", value: "😀" } }, bad: { kind: { case: "stringValue", value: "\ud800" } } },
    });
    expect(failure(() => requireStorableMessage(StructSchema, struct)).field).toBe('fields["bad"].string_value');
  });

  it("passes messages whose strings are all storable, with a path prefix when given", () => {
    const order = create(CreateOrderRequestSchema, { customerId: "c", items: [{ productId: "p", quantity: 2 }] });
    expect(() => requireStorableMessage(CreateOrderRequestSchema, order)).not.toThrow();
    order.customerId = "\u0000";
    expect(failure(() => requireStorableMessage(CreateOrderRequestSchema, order, "orders[3]")).field).toBe("orders[3].customer_id");
  });
});

describe("storableText", () => {
  it("returns storable text as it is, surrogate pairs (emoji) included", () => {
    for (const ok of ["", "card_declined", "Straße 1 😀", "tab\there", "\u{10ffff}", "\ufffd"]) expect(storableText(ok)).toBe(ok);
  });

  it("replaces each NUL and unpaired surrogate with U+FFFD, keeping the length", () => {
    expect(storableText("do not\u0000\u0000 honour")).toBe("do not\ufffd\ufffd honour");
    expect(storableText("\ud800")).toBe("\ufffd");
    expect(storableText("x\udc00y")).toBe("x\ufffdy");
    expect(storableText("😀\ud83d")).toBe("😀\ufffd");
    expect(storableText("\ude00😀\ud83d\ud83d\ude00")).toBe("\ufffd😀\ufffd😀");
    // Replaced, not dropped: a malformed id stays malformed instead of becoming another, valid one.
    const id = uuidv7();
    expect(isUuid(storableText(`${id}\u0000`))).toBe(false);
    for (const bad of ["a\u0000", "\ud800x", "\udfff", "\ud83d\ud83d"]) {
      expect(textProblem(storableText(bad))).toBeUndefined();
      expect(storableText(bad)).toHaveLength(bad.length);
    }
  });
});

describe("cutText", () => {
  it("cuts to at most max code units, never between the halves of a pair", () => {
    expect(cutText("short", 10)).toBe("short");
    expect(cutText("abcdef", 3)).toBe("abc");
    expect(cutText(`${"a".repeat(9)}😀`, 10)).toBe("a".repeat(9));
    expect(cutText(`${"a".repeat(8)}😀`, 10)).toBe(`${"a".repeat(8)}😀`);
    expect(cutText(`${"a".repeat(8)}😀b`, 10)).toBe(`${"a".repeat(8)}😀`);
  });
});

describe("makeStorable", () => {
  it("leaves a storable message untouched and says so with undefined", () => {
    const event = create(OrderCreatedSchema, {
      orderId: "o",
      customerName: "Zoë 😀",
      lines: [{ productId: "p", productName: "Widget", quantity: 1 }],
      shippingAddress: { line1: "1 Main St", city: "Springfield" },
    });
    const before = structuredClone(event);
    expect(makeStorable(OrderCreatedSchema, event)).toBeUndefined();
    expect(event).toEqual(before);
  });

  it("repairs top-level, nested and repeated strings in place, naming each", () => {
    const event = create(OrderCreatedSchema, {
      orderId: "o",
      customerName: "Ada\u0000",
      lines: [
        { productId: "p1", productName: "ok 😀" },
        { productId: "p2", productName: "half \ud83d" },
      ],
      shippingAddress: { line1: "\udc00 Main St", city: "Springfield" },
    });
    expect(makeStorable(OrderCreatedSchema, event)).toEqual(["lines[1].product_name", "shipping_address.line1", "customer_name"]);
    expect(event.customerName).toBe("Ada\ufffd");
    expect(event.lines.map((line) => line.productName)).toEqual(["ok 😀", "half \ufffd"]);
    expect(event.shippingAddress?.line1).toBe("\ufffd Main St");
    expect(event.shippingAddress?.city).toBe("Springfield");
    const rejected = create(OrderRejectedSchema, { shortProductIds: ["a", "b\u0000", "\ud800"] });
    expect(makeStorable(OrderRejectedSchema, rejected)).toEqual(["short_product_ids[1]", "short_product_ids[2]"]);
    expect(rejected.shortProductIds).toEqual(["a", "b\ufffd", "\ufffd"]);
  });

  it("repairs map values and keys", () => {
    const request = create(SendNotificationRequestSchema, { templateData: { name: "A\u0000", "k\u0000": "v", ok: "😀" } });
    expect(makeStorable(SendNotificationRequestSchema, request)?.sort()).toEqual(["template_data key", 'template_data["name"]']);
    expect(request.templateData).toEqual({ name: "A\ufffd", "k\ufffd": "v", ok: "😀" });
  });

  it("repairs the set case of a oneof, down recursive types (google.protobuf.Struct)", () => {
    const struct = create(StructSchema, {
      fields: {
        reason: create(ValueSchema, { kind: { case: "stringValue", value: "x\u0000" } }),
        count: create(ValueSchema, { kind: { case: "numberValue", value: 1 } }),
        nested: create(ValueSchema, {
          kind: {
            case: "listValue",
            value: { values: [create(ValueSchema, { kind: { case: "stringValue", value: "\ud800" } })] },
          },
        }),
      },
    });
    expect(makeStorable(StructSchema, struct)?.sort()).toEqual(['fields["nested"].list_value.values[0].string_value', 'fields["reason"].string_value']);
    expect(struct.fields.reason.kind).toEqual({ case: "stringValue", value: "x\ufffd" });
    expect(struct.fields.count.kind).toEqual({ case: "numberValue", value: 1 });
    const nested = struct.fields.nested.kind.value as { values: { kind: unknown }[] };
    expect(nested.values[0].kind).toEqual({ case: "stringValue", value: "\ufffd" });
  });

  it("repairs a NUL that came over the wire (protobuf already turns unpaired surrogates into U+FFFD)", () => {
    const wire = toBinary(PaymentFailedSchema, create(PaymentFailedSchema, { orderId: "o", reason: "declined\u0000 \ud83d" }));
    const event = fromBinary(PaymentFailedSchema, wire);
    expect(event.reason).toBe("declined\u0000 \ufffd");
    expect(makeStorable(PaymentFailedSchema, event)).toEqual(["reason"]);
    expect(event.reason).toBe("declined\ufffd \ufffd");
  });
});
