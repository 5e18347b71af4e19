import { describe, expect, it } from "@jest/globals";
import {
  canTransition,
  chargeStep,
  FailureReason,
  givesUpOnProvider,
  intentAfter,
  intentStep,
  isChargeable,
  isOpen,
  isRefundable,
  onOrderEnded,
  outageReason,
  planRefund,
  remainingRefundable,
  sagaOutcome,
  settle,
  statusAfterRefund,
} from "./payment.js";

describe("payment status transitions", () => {
  it("allows charge answers from PENDING and refunds from charged states only", () => {
    expect(canTransition("PENDING", "COMPLETED")).toBe(true);
    expect(canTransition("PENDING", "FAILED")).toBe(true);
    expect(canTransition("COMPLETED", "PARTIALLY_REFUNDED")).toBe(true);
    expect(canTransition("COMPLETED", "REFUNDED")).toBe(true);
    expect(canTransition("PARTIALLY_REFUNDED", "PARTIALLY_REFUNDED")).toBe(true);
    expect(canTransition("PARTIALLY_REFUNDED", "REFUNDED")).toBe(true);
  });

  it("never leaves FAILED or REFUNDED and never goes back", () => {
    for (const to of ["PENDING", "COMPLETED", "FAILED", "REFUNDED", "PARTIALLY_REFUNDED"] as const) {
      expect(canTransition("FAILED", to)).toBe(false);
      expect(canTransition("REFUNDED", to)).toBe(false);
    }
    expect(canTransition("COMPLETED", "PENDING")).toBe(false);
    expect(canTransition("PARTIALLY_REFUNDED", "COMPLETED")).toBe(false);
    expect(canTransition("COMPLETED", "FAILED")).toBe(false);
  });
});

describe("refund arithmetic", () => {
  const charged = { status: "COMPLETED" as const, amountMinor: 1000n, refundedMinor: 0n };

  it("refunds everything that remains when no amount is given", () => {
    expect(planRefund(charged)).toEqual({ ok: true, amountMinor: 1000n, refundedMinor: 1000n, status: "REFUNDED" });
    expect(planRefund({ status: "PARTIALLY_REFUNDED", amountMinor: 1000n, refundedMinor: 300n })).toEqual({
      ok: true,
      amountMinor: 700n,
      refundedMinor: 1000n,
      status: "REFUNDED",
    });
  });

  it("refunds part and then the rest, to the exact total", () => {
    const first = planRefund(charged, 250n);
    expect(first).toEqual({ ok: true, amountMinor: 250n, refundedMinor: 250n, status: "PARTIALLY_REFUNDED" });
    const second = planRefund({ status: "PARTIALLY_REFUNDED", amountMinor: 1000n, refundedMinor: 250n }, 750n);
    expect(second).toEqual({ ok: true, amountMinor: 750n, refundedMinor: 1000n, status: "REFUNDED" });
  });

  it("refuses more than remains, zero and negative amounts", () => {
    expect(planRefund(charged, 1001n)).toEqual({ ok: false, reason: "refund of 1001 exceeds the 1000 still refundable" });
    expect(planRefund({ status: "PARTIALLY_REFUNDED", amountMinor: 1000n, refundedMinor: 900n }, 101n)).toMatchObject({ ok: false });
    expect(planRefund(charged, 0n)).toMatchObject({ ok: false });
    expect(planRefund(charged, -5n)).toMatchObject({ ok: false });
  });

  it("is exact beyond Number.MAX_SAFE_INTEGER", () => {
    const large = { status: "COMPLETED" as const, amountMinor: 2n ** 62n + 1n, refundedMinor: 0n };
    expect(planRefund(large, 2n ** 62n)).toEqual({ ok: true, amountMinor: 2n ** 62n, refundedMinor: 2n ** 62n, status: "PARTIALLY_REFUNDED" });
    expect(remainingRefundable({ ...large, status: "PARTIALLY_REFUNDED", refundedMinor: 2n ** 62n })).toBe(1n);
  });

  it("refuses payments that hold no money", () => {
    for (const status of ["PENDING", "FAILED", "REFUNDED"] as const) {
      const plan = planRefund({ status, amountMinor: 1000n, refundedMinor: status === "REFUNDED" ? 1000n : 0n });
      expect(plan).toEqual({ ok: false, reason: expect.stringContaining(status) });
    }
  });

  it("knows what remains refundable", () => {
    expect(remainingRefundable(charged)).toBe(1000n);
    expect(remainingRefundable({ status: "PARTIALLY_REFUNDED", amountMinor: 1000n, refundedMinor: 400n })).toBe(600n);
    expect(remainingRefundable({ status: "FAILED", amountMinor: 1000n, refundedMinor: 0n })).toBe(0n);
    expect(remainingRefundable({ status: "REFUNDED", amountMinor: 1000n, refundedMinor: 1000n })).toBe(0n);
    expect(isRefundable("COMPLETED")).toBe(true);
    expect(isRefundable("FAILED")).toBe(false);
    expect(statusAfterRefund(1000n, 999n)).toBe("PARTIALLY_REFUNDED");
    expect(statusAfterRefund(1000n, 1000n)).toBe("REFUNDED");
  });
});

describe("saga decisions", () => {
  it("charges only a PENDING intent, and records the reservation when order.created has not arrived", () => {
    expect(chargeStep(undefined)).toBe("await-order");
    expect(chargeStep("PENDING")).toBe("charge");
    expect(chargeStep("AWAITING_ORDER")).toBe("skip");
    expect(chargeStep("CHARGED")).toBe("skip");
    expect(chargeStep("FAILED")).toBe("skip");
    expect(chargeStep("CANCELLED")).toBe("skip");
  });

  it("charges on order.created when the reservation arrived first, and only then", () => {
    expect(intentStep(undefined)).toBe("record");
    expect(intentStep("AWAITING_ORDER")).toBe("record-and-charge");
    for (const status of ["PENDING", "CHARGED", "FAILED", "CANCELLED"] as const) expect(intentStep(status)).toBe("skip");
  });

  it("charges exactly once whichever of order.created and inventory.reserved comes first", () => {
    // reserved first: it records AWAITING_ORDER, order.created charges
    expect([chargeStep(undefined), intentStep("AWAITING_ORDER")]).toEqual(["await-order", "record-and-charge"]);
    // created first: it records PENDING, inventory.reserved charges
    expect([intentStep(undefined), chargeStep("PENDING")]).toEqual(["record", "charge"]);
  });

  it("answers with the outcome of a stored payment", () => {
    expect(sagaOutcome({ status: "COMPLETED" })).toEqual({ event: "completed" });
    expect(sagaOutcome({ status: "PARTIALLY_REFUNDED" })).toEqual({ event: "completed" });
    expect(sagaOutcome({ status: "FAILED", failureReason: "card_declined" })).toEqual({ event: "failed", reason: "card_declined" });
    expect(sagaOutcome({ status: "REFUNDED" })).toEqual({ event: "failed", reason: FailureReason.PAYMENT_REFUNDED });
    expect(() => sagaOutcome({ status: "PENDING" })).toThrow();
    expect(intentAfter({ event: "completed" })).toBe("CHARGED");
    expect(intentAfter({ event: "failed", reason: "x" })).toBe("FAILED");
  });

  it("refunds a charged order when it ends and makes sure an uncharged one never is", () => {
    const completed = { status: "COMPLETED" as const, amountMinor: 500n, refundedMinor: 0n };
    expect(onOrderEnded("CHARGED", completed)).toEqual({ refund: true, intent: "keep" });
    expect(onOrderEnded("CHARGED", { ...completed, status: "REFUNDED", refundedMinor: 500n })).toEqual({ refund: false, intent: "keep" });
    expect(onOrderEnded("PENDING", undefined)).toEqual({ refund: false, intent: "cancel" });
    expect(onOrderEnded("AWAITING_ORDER", undefined)).toEqual({ refund: false, intent: "cancel" });
    expect(onOrderEnded(undefined, undefined)).toEqual({ refund: false, intent: "tombstone" });
    expect(onOrderEnded("FAILED", { ...completed, status: "FAILED" })).toEqual({ refund: false, intent: "keep" });
    // Charged through the RPC while the saga's intent was still pending.
    expect(onOrderEnded("PENDING", completed)).toEqual({ refund: true, intent: "cancel" });
  });

  it("keeps an intent open until the saga answers or the order ends, and charges only a PENDING one", () => {
    expect(isOpen("PENDING")).toBe(true);
    expect(isOpen("AWAITING_ORDER")).toBe(true);
    for (const status of ["CHARGED", "FAILED", "CANCELLED", undefined] as const) expect(isOpen(status)).toBe(false);
    expect(isChargeable("PENDING")).toBe(true);
    // AWAITING_ORDER has no token or total yet; the settled ones were answered.
    for (const status of ["AWAITING_ORDER", "CHARGED", "FAILED", "CANCELLED", undefined] as const) expect(isChargeable(status)).toBe(false);
  });

  it("settles an open intent once: the status and payment are taken, the token is wiped", () => {
    const pending = { orderId: "o1", status: "PENDING" as const, token: "tok_visa", paymentId: null };
    expect(settle(pending, "CHARGED", "p1")).toEqual({ orderId: "o1", status: "CHARGED", token: null, paymentId: "p1" });
    expect(settle({ ...pending, status: "AWAITING_ORDER", token: null }, "CANCELLED")).toEqual({
      orderId: "o1",
      status: "CANCELLED",
      token: null,
      paymentId: null,
    });
    // A settled intent stays as it is: a late cancellation cannot undo a charge, nor a charge a cancellation.
    const charged = settle(pending, "CHARGED", "p1");
    expect(settle(charged, "CANCELLED")).toBe(charged);
    const cancelled = settle(pending, "CANCELLED");
    expect(settle(cancelled, "CHARGED", "p2")).toBe(cancelled);
    // The input is not changed: the caller decides what to keep.
    expect(pending.status).toBe("PENDING");
  });

  it("gives up on an unreachable provider on the last attempt only", () => {
    expect(givesUpOnProvider(1, 4)).toBe(false);
    expect(givesUpOnProvider(3, 4)).toBe(false);
    expect(givesUpOnProvider(4, 4)).toBe(true);
    // The server's extra delivery (max_deliver + 1) never reaches the handler, but would give up too.
    expect(givesUpOnProvider(5, 4)).toBe(true);
    expect(givesUpOnProvider(1, 1)).toBe(true);
  });

  it("names provider outages", () => {
    expect(outageReason(true)).toBe("provider_timeout");
    expect(outageReason(false)).toBe("provider_unavailable");
  });
});
