import { describe, expect, it } from "@jest/globals";
import { SendNotificationRequestSchema } from "../gen/shop/notification/v1/notification_pb.js";
import { CreateOrderRequestSchema, ListOrdersRequestSchema, OrderSchema, OrderStatus } from "../gen/shop/order/v1/order_pb.js";
import { UploadRequestSchema } from "../gen/shop/file/v1/file_pb.js";
import { create } from "@bufbuild/protobuf";
import { decodeMessage, encodeMessage } from "./json.js";

function problem(fn: () => unknown): { field?: string; message: string } {
  try {
    fn();
  } catch (error) {
    return error as { field?: string; message: string };
  }
  throw new Error("expected an error");
}

describe("strict protobuf JSON decoding", () => {
  it("accepts snake_case and camelCase names", () => {
    const request = decodeMessage(CreateOrderRequestSchema, {
      customer_id: "c",
      items: [{ productId: "p", quantity: 2 }],
      shipping_address: { line1: "1 Main St", country_code: "US" },
      paymentMethod: { token: "tok_visa" },
    });
    expect(request).toMatchObject({ customerId: "c", items: [{ productId: "p", quantity: 2 }], paymentMethod: { token: "tok_visa" } });
  });

  it.each([
    [{ foo: 1 }, "foo", /unknown field/],
    [{ items: [{ quantity: 1, colour: "red" }] }, "items[0].colour", /unknown field/],
    [{ items: [{ quantity: "abc" }] }, "items[0].quantity", /expected number \(int32\)/],
    [{ items: [{ quantity: 1.5 }] }, "items[0].quantity", /int32/],
    [{ items: [{ quantity: 1e10 }] }, "items[0].quantity", /out of range/],
    [{ items: "x" }, "items", /must be an array/],
    [{ items: [null] }, "items[0]", /must not be null/],
    [{ shipping_address: 3 }, "shipping_address", /must be a JSON object/],
    [{ customer_id: 5 }, "customer_id", /expected string/],
    [{ customer_id: "a", customerId: "b" }, "customer_id", /set twice/],
  ])("%j is refused naming %s", (json, field, message) => {
    const error = problem(() => decodeMessage(CreateOrderRequestSchema, json));
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
    expect(error.message.startsWith(`${field}: `)).toBe(true);
  });

  it("refuses a body that is not an object", () => {
    expect(problem(() => decodeMessage(CreateOrderRequestSchema, [1, 2]))).toMatchObject({
      field: "body",
      message: "body: must be a JSON object, got an array",
    });
  });

  it("accepts enum values in full, short or numeric form and refuses unknown ones", () => {
    expect(decodeMessage(ListOrdersRequestSchema, { status: "ORDER_STATUS_CONFIRMED" }).status).toBe(OrderStatus.CONFIRMED);
    expect(decodeMessage(ListOrdersRequestSchema, { status: "confirmed" }).status).toBe(OrderStatus.CONFIRMED);
    expect(decodeMessage(ListOrdersRequestSchema, { status: 3 }).status).toBe(OrderStatus.CONFIRMED);
    expect(decodeMessage(ListOrdersRequestSchema, { page_size: "10" }).pageSize).toBe(10);
    const error = problem(() => decodeMessage(ListOrdersRequestSchema, { status: 99 }));
    expect(error).toMatchObject({ field: "status", message: expect.stringMatching(/must be one of PENDING, RESERVED, CONFIRMED/) });
  });

  it("checks map values and oneofs", () => {
    expect(problem(() => decodeMessage(SendNotificationRequestSchema, { template_data: { total: 5 } }))).toMatchObject({
      field: 'template_data["total"]',
    });
    expect(problem(() => decodeMessage(UploadRequestSchema, { metadata: {}, chunk: "AAAA" }))).toMatchObject({
      field: "data",
      message: expect.stringMatching(/only one of metadata, chunk/),
    });
  });

  it("encodes with proto field names and every field present", () => {
    const json = encodeMessage(OrderSchema, create(OrderSchema, { id: "o1", status: OrderStatus.PENDING, total: { currencyCode: "USD", amountMinor: 1999n } }));
    expect(json).toMatchObject({ id: "o1", customer_id: "", status: "ORDER_STATUS_PENDING", items: [], total: { currency_code: "USD", amount_minor: "1999" } });
  });
});
