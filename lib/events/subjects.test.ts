import { describe, expect, it } from "@jest/globals";
import { FileInvoiceGeneratedSchema } from "../../gen/shop/events/v1/file_events_pb.js";
import { OrderCreatedSchema, OrderPaymentFailedSchema } from "../../gen/shop/events/v1/order_events_pb.js";
import { busNames, DEFAULT_BUS_NAMES } from "./names.js";
import { deadLetterSubject, eventRoute, eventSubject, originalSubject } from "./subjects.js";

describe("busNames", () => {
  it("uses the production names without a prefix", () => {
    expect(busNames()).toEqual({ stream: "SHOP_EVENTS", dlqStream: "SHOP_DLQ", subjectRoot: "shop", dlqSubjectRoot: "dlq.shop" });
    expect(busNames("")).toBe(DEFAULT_BUS_NAMES);
  });

  it("puts a prefix on every stream and subject", () => {
    expect(busNames("t1a2")).toEqual({
      stream: "t1a2_SHOP_EVENTS",
      dlqStream: "t1a2_SHOP_DLQ",
      subjectRoot: "t1a2.shop",
      dlqSubjectRoot: "t1a2.dlq.shop",
    });
  });

  it("rejects prefixes that are not one subject token", () => {
    for (const bad of ["a.b", "a b", "*", ">", "ä"]) expect(() => busNames(bad)).toThrow(/must match/);
  });
});

describe("subjects", () => {
  it("derives aggregate and event from the message name", () => {
    expect(eventRoute(OrderPaymentFailedSchema)).toEqual({
      eventType: "shop.events.v1.OrderPaymentFailed",
      aggregateType: "order",
      subjectSuffix: "order.payment_failed",
    });
    expect(eventSubject(DEFAULT_BUS_NAMES, OrderPaymentFailedSchema)).toBe("shop.order.payment_failed");
    expect(eventSubject(DEFAULT_BUS_NAMES, FileInvoiceGeneratedSchema)).toBe("shop.file.invoice_generated");
    expect(eventSubject(busNames("t1"), OrderCreatedSchema)).toBe("t1.shop.order.created");
  });

  it("refuses names it cannot split into aggregate and event", () => {
    expect(() => eventRoute({ typeName: "x.Order", name: "Order" })).toThrow(/cannot derive a subject/);
    expect(() => eventRoute({ typeName: "x.order_created", name: "order_created" })).toThrow(/cannot derive a subject/);
  });

  it("maps between event and dead-letter subjects within a namespace", () => {
    expect(deadLetterSubject(DEFAULT_BUS_NAMES, "shop.order.created")).toBe("dlq.shop.order.created");
    const names = busNames("t9");
    expect(deadLetterSubject(names, "t9.shop.order.created")).toBe("t9.dlq.shop.order.created");
    expect(originalSubject(names, "t9.dlq.shop.order.created")).toBe("t9.shop.order.created");
    expect(() => deadLetterSubject(names, "shop.order.created")).toThrow(/not below/);
  });
});
