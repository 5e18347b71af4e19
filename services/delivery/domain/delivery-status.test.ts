import { describe, expect, it } from "@jest/globals";
import { DELIVERY_STATUSES, type DeliveryStatus, decideTransition, hasShipped, isFinal, nextStatuses, onOrderCancelled } from "./delivery-status.js";

/** Every allowed transition; every other pair of different statuses must be refused. */
const ALLOWED = new Set(["PENDING->IN_TRANSIT", "PENDING->FAILED", "PENDING->CANCELLED", "IN_TRANSIT->DELIVERED", "IN_TRANSIT->FAILED"]);

describe("delivery state machine", () => {
  for (const from of DELIVERY_STATUSES) {
    for (const to of DELIVERY_STATUSES) {
      const name = `${from}->${to}`;
      const expected = from === to ? "unchanged" : ALLOWED.has(name) ? "transition" : "refused";
      it(`${name} is ${expected}`, () => {
        const outcome = decideTransition(from, to);
        expect(outcome.kind).toBe(expected);
        if (outcome.kind === "transition") expect(outcome).toEqual({ kind: "transition", from, to });
        if (outcome.kind === "unchanged") expect(outcome).toEqual({ kind: "unchanged", status: from });
        if (outcome.kind === "refused") {
          expect(outcome.why).toContain(from);
          expect(outcome.why).toContain(to);
        }
      });
    }
  }

  it("explains a refusal with what is allowed", () => {
    expect(decideTransition("PENDING", "DELIVERED")).toEqual({
      kind: "refused",
      why: "a delivery cannot move from PENDING to DELIVERED: from PENDING only IN_TRANSIT, FAILED, CANCELLED are allowed",
    });
    expect(decideTransition("DELIVERED", "FAILED")).toEqual({
      kind: "refused",
      why: "a delivery cannot move from DELIVERED to FAILED: DELIVERED is final",
    });
  });

  it("knows the final and shipped statuses", () => {
    expect(DELIVERY_STATUSES.filter(isFinal)).toEqual(["DELIVERED", "FAILED", "CANCELLED"]);
    expect(DELIVERY_STATUSES.filter(hasShipped)).toEqual(["IN_TRANSIT", "DELIVERED"]);
    expect(nextStatuses("IN_TRANSIT")).toEqual(["DELIVERED", "FAILED"]);
  });
});

describe("order.cancelled", () => {
  const cases: [DeliveryStatus, ReturnType<typeof onOrderCancelled>["kind"], boolean][] = [
    ["PENDING", "cancel", false],
    ["CANCELLED", "ignore", false],
    ["IN_TRANSIT", "ignore", true],
    ["DELIVERED", "ignore", true],
    ["FAILED", "ignore", false],
  ];
  for (const [status, kind, warn] of cases) {
    it(`${status}: ${kind}${warn ? " with a warning" : ""}`, () => {
      const outcome = onOrderCancelled(status);
      expect(outcome.kind).toBe(kind);
      if (outcome.kind === "ignore") expect(outcome.warn).toBe(warn);
      else expect(outcome).toEqual({ kind: "cancel", from: "PENDING" });
    });
  }
});
