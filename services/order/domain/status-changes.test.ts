import { describe, expect, it } from "@jest/globals";
import { failureReasonOf, orderUpdates, type StatusChange } from "./status-changes.js";

const A = "0190a000-0000-7000-8000-00000000000a";
const B = "0190a000-0000-7000-8000-00000000000b";

describe("orderUpdates", () => {
  it("makes one update per order, in the order of each order's first change", () => {
    const changes: StatusChange[] = [
      { orderId: B, from: "PENDING", to: "RESERVED", reason: "stock reserved", eventId: "e1" },
      { orderId: A, from: "RESERVED", to: "PAYMENT_FAILED", reason: "declined", eventId: "e2" },
    ];
    expect(orderUpdates(changes)).toEqual([
      { orderId: B, from: "PENDING", to: "RESERVED", failureReason: "", paymentId: null, cardLast4: null, steps: 1 },
      { orderId: A, from: "RESERVED", to: "PAYMENT_FAILED", failureReason: "declined", paymentId: null, cardLast4: null, steps: 1 },
    ]);
  });

  it("folds an order's changes: guarded by the first status, ending at the last, counting every step", () => {
    const changes: StatusChange[] = [
      { orderId: A, from: "RESERVED", to: "CONFIRMED", reason: "payment completed", eventId: "e1", payment: { paymentId: "pay-1", cardLast4: "4242" } },
      { orderId: B, from: "PENDING", to: "RESERVED", reason: "stock reserved", eventId: "e2" },
      { orderId: A, from: "CONFIRMED", to: "SHIPPED", reason: "delivery in transit", eventId: "e3" },
      { orderId: A, from: "SHIPPED", to: "DELIVERY_FAILED", reason: "parcel lost", eventId: "e4" },
    ];
    expect(orderUpdates(changes)).toEqual([
      // The payment of an earlier change is kept; the failure reason is the last change's.
      { orderId: A, from: "RESERVED", to: "DELIVERY_FAILED", failureReason: "parcel lost", paymentId: "pay-1", cardLast4: "4242", steps: 3 },
      { orderId: B, from: "PENDING", to: "RESERVED", failureReason: "", paymentId: null, cardLast4: null, steps: 1 },
    ]);
  });

  it("refuses changes of one order that do not follow on from each other", () => {
    const changes: StatusChange[] = [
      { orderId: A, from: "PENDING", to: "RESERVED", reason: "stock reserved", eventId: "e1" },
      { orderId: A, from: "PENDING", to: "REJECTED", reason: "short", eventId: "e2" },
    ];
    expect(() => orderUpdates(changes)).toThrow(/from PENDING follows one to RESERVED/);
  });

  it("makes nothing of no changes", () => {
    expect(orderUpdates([])).toEqual([]);
  });
});

describe("failureReasonOf", () => {
  it("keeps the reason of a failure, capped, and clears it otherwise", () => {
    expect(failureReasonOf("REJECTED", "x".repeat(1500))).toHaveLength(1000);
    expect(failureReasonOf("CONFIRMED", "payment completed")).toBe("");
  });
});
