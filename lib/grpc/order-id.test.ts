import { describe, expect, it } from "@jest/globals";
import { create } from "@bufbuild/protobuf";
import { UpdateDeliveryStatusRequestSchema, UpdateDeliveryStatusResponseSchema } from "../../gen/shop/delivery/v1/delivery_pb.js";
import { GetProductRequestSchema } from "../../gen/shop/inventory/v1/inventory_pb.js";
import { CreateOrderRequestSchema, CreateOrderResponseSchema, GetOrderRequestSchema, ListOrdersResponseSchema } from "../../gen/shop/order/v1/order_pb.js";
import { orderIdReader } from "./order-id.js";

describe("orderIdReader", () => {
  const id = "0190a000-0000-7000-8000-000000000001";

  it("reads a request's own order_id", () => {
    expect(orderIdReader(GetOrderRequestSchema)?.(create(GetOrderRequestSchema, { orderId: id }))).toBe(id);
  });

  it("reads the id of an `order` field and the order_id of another message field", () => {
    expect(orderIdReader(CreateOrderResponseSchema)?.(create(CreateOrderResponseSchema, { order: { id } }))).toBe(id);
    const delivery = create(UpdateDeliveryStatusResponseSchema, { delivery: { id: "d1", orderId: id } });
    expect(orderIdReader(UpdateDeliveryStatusResponseSchema)?.(delivery)).toBe(id);
  });

  it("says undefined for an empty or absent id", () => {
    expect(orderIdReader(GetOrderRequestSchema)?.(create(GetOrderRequestSchema, {}))).toBeUndefined();
    expect(orderIdReader(CreateOrderResponseSchema)?.(create(CreateOrderResponseSchema, {}))).toBeUndefined();
  });

  it("has no reader for messages that name no single order", () => {
    expect(orderIdReader(CreateOrderRequestSchema)).toBeUndefined();
    expect(orderIdReader(ListOrdersResponseSchema)).toBeUndefined();
    expect(orderIdReader(GetProductRequestSchema)).toBeUndefined();
    expect(orderIdReader(UpdateDeliveryStatusRequestSchema)).toBeUndefined();
  });

  it("works the path out once per message type", () => {
    expect(orderIdReader(GetOrderRequestSchema)).toBe(orderIdReader(GetOrderRequestSchema));
  });
});
