import { describe, expect, it } from "@jest/globals";
import {
  decide,
  FAILURE_STATUSES,
  hasFailureReason,
  isTerminal,
  isUnpayable,
  OPERATOR_STATUSES,
  ORDER_STATUSES,
  type OrderInput,
  type OrderStatus,
  TERMINAL_STATUSES,
  UNPAYABLE_STATUSES,
} from "./order-status.js";

const ALL: OrderStatus[] = [
  "PENDING",
  "RESERVED",
  "CONFIRMED",
  "REJECTED",
  "PAYMENT_FAILED",
  "CANCELLED",
  "EXPIRED",
  "SHIPPED",
  "DELIVERED",
  "DELIVERY_FAILED",
];

const INPUTS: OrderInput[] = [
  { type: "inventory.reserved" },
  { type: "inventory.insufficient", reason: "p1 short" },
  { type: "inventory.released", reason: "EXPIRED" },
  { type: "inventory.released", reason: "OTHER" },
  { type: "payment.completed" },
  { type: "payment.failed", reason: "declined" },
  { type: "delivery.status_changed", to: "IN_TRANSIT" },
  { type: "delivery.status_changed", to: "DELIVERED" },
  { type: "delivery.status_changed", to: "FAILED" },
  { type: "delivery.status_changed", to: "CANCELLED" },
  { type: "cancel", reason: "changed my mind" },
];

/** Every transition the saga allows; anything else must be ignored or refused. */
const ALLOWED: Record<string, OrderStatus> = {
  "PENDING inventory.reserved": "RESERVED",
  "PENDING inventory.insufficient": "REJECTED",
  "RESERVED inventory.insufficient": "REJECTED",
  "CONFIRMED inventory.insufficient": "CANCELLED",
  "PENDING inventory.released:EXPIRED": "EXPIRED",
  "RESERVED inventory.released:EXPIRED": "EXPIRED",
  "PENDING payment.completed": "CONFIRMED",
  "RESERVED payment.completed": "CONFIRMED",
  "PENDING payment.failed": "PAYMENT_FAILED",
  "RESERVED payment.failed": "PAYMENT_FAILED",
  "CONFIRMED delivery.status_changed:IN_TRANSIT": "SHIPPED",
  "CONFIRMED delivery.status_changed:DELIVERED": "DELIVERED",
  "SHIPPED delivery.status_changed:DELIVERED": "DELIVERED",
  "CONFIRMED delivery.status_changed:FAILED": "DELIVERY_FAILED",
  "SHIPPED delivery.status_changed:FAILED": "DELIVERY_FAILED",
  "PENDING cancel": "CANCELLED",
  "RESERVED cancel": "CANCELLED",
  "CONFIRMED cancel": "CANCELLED",
};

function key(status: OrderStatus, input: OrderInput): string {
  const detail = input.type === "inventory.released" ? `:${input.reason}` : input.type === "delivery.status_changed" ? `:${input.to}` : "";
  return `${status} ${input.type}${detail}`;
}

describe("order state machine", () => {
  for (const status of ALL) {
    for (const input of INPUTS) {
      const name = key(status, input);
      const expected = ALLOWED[name];
      it(`${name} -> ${expected ?? "no change"}`, () => {
        const outcome = decide(status, input);
        if (expected) {
          expect(outcome).toMatchObject({ kind: "transition", from: status, to: expected });
        } else {
          expect(outcome.kind).not.toBe("transition");
        }
      });
    }
  }

  it("refuses to cancel once shipped or finished, naming the status", () => {
    for (const status of ["SHIPPED", "DELIVERED", "REJECTED", "PAYMENT_FAILED", "EXPIRED", "DELIVERY_FAILED"] as const) {
      const outcome = decide(status, { type: "cancel", reason: "" });
      expect(outcome).toEqual({ kind: "refused", why: `order is ${status} and can no longer be cancelled` });
    }
  });

  it("treats a second cancel as a no-op, not an error", () => {
    expect(decide("CANCELLED", { type: "cancel", reason: "" }).kind).toBe("ignored");
  });

  it("ignores duplicates: applying the same event twice changes nothing the second time", () => {
    for (const status of ALL) {
      for (const input of INPUTS.filter((i) => i.type !== "cancel")) {
        const first = decide(status, input);
        if (first.kind !== "transition") continue;
        expect(decide(first.to, input).kind).toBe("ignored");
      }
    }
  });

  it("never moves backwards when events arrive out of order", () => {
    // payment.completed consumed before inventory.reserved
    const confirmed = decide("PENDING", { type: "payment.completed" });
    expect(confirmed).toMatchObject({ to: "CONFIRMED" });
    expect(decide("CONFIRMED", { type: "inventory.reserved" }).kind).toBe("ignored");
    // delivered before in-transit
    expect(decide("DELIVERED", { type: "delivery.status_changed", to: "IN_TRANSIT" }).kind).toBe("ignored");
    // an expiry that lost the race with payment
    expect(decide("CONFIRMED", { type: "inventory.released", reason: "EXPIRED" }).kind).toBe("ignored");
  });

  it("leaves terminal states only never", () => {
    for (const status of ALL.filter(isTerminal)) {
      for (const input of INPUTS) {
        expect(decide(status, input).kind).not.toBe("transition");
      }
    }
  });

  it("compensates a failed delivery (full refund, units restocked) and no other transition", () => {
    for (const status of ALL) {
      for (const input of INPUTS) {
        const outcome = decide(status, input);
        if (outcome.kind !== "transition") continue;
        if (outcome.to === "DELIVERY_FAILED") expect(outcome.compensation).toEqual({ refund: "full", restock: true });
        else expect(outcome.compensation).toBeUndefined();
      }
    }
  });

  it("uses the cancel reason, with a default", () => {
    expect(decide("PENDING", { type: "cancel", reason: "" })).toMatchObject({ reason: "cancelled by customer" });
    expect(decide("PENDING", { type: "cancel", reason: "too slow" })).toMatchObject({ reason: "too slow" });
  });

  describe("operator status changes", () => {
    const set = (to: OrderStatus, reason = ""): OrderInput => ({ type: "operator.set_status", to, reason });

    it("allows exactly what the matching delivery event or cancel would", () => {
      for (const from of ALL) {
        for (const to of OPERATOR_STATUSES) {
          const outcome = decide(from, set(to));
          const equivalent: OrderInput =
            to === "CANCELLED"
              ? { type: "cancel", reason: "" }
              : { type: "delivery.status_changed", to: to === "SHIPPED" ? "IN_TRANSIT" : to === "DELIVERED" ? "DELIVERED" : "FAILED" };
          expect(outcome.kind === "transition").toBe(decide(from, equivalent).kind === "transition");
        }
      }
    });

    it("refuses a move the state machine does not allow, instead of ignoring it", () => {
      expect(decide("PENDING", set("SHIPPED"))).toEqual({ kind: "refused", why: "order is PENDING and cannot become SHIPPED" });
      expect(decide("DELIVERED", set("CANCELLED")).kind).toBe("refused");
      expect(decide("SHIPPED", set("SHIPPED")).kind).toBe("ignored");
    });

    it("never sets a status only the saga knows", () => {
      for (const to of ALL.filter((s) => !OPERATOR_STATUSES.has(s))) {
        for (const from of ALL) expect(decide(from, set(to)).kind).not.toBe("transition");
      }
    });

    it("records the operator's reason, with a default", () => {
      expect(decide("CONFIRMED", set("SHIPPED"))).toMatchObject({ kind: "transition", reason: "set to SHIPPED by an operator" });
      expect(decide("SHIPPED", set("DELIVERY_FAILED", "parcel lost"))).toMatchObject({ to: "DELIVERY_FAILED", reason: "parcel lost" });
    });
  });

  describe("status sets, checked against the state machine for every status", () => {
    const EVERY_INPUT: OrderInput[] = [...INPUTS, ...ALL.map((to): OrderInput => ({ type: "operator.set_status", to, reason: "" }))];
    const successors = (status: OrderStatus, inputs = EVERY_INPUT): OrderStatus[] =>
      inputs.flatMap((input) => {
        const outcome = decide(status, input);
        return outcome.kind === "transition" ? [outcome.to] : [];
      });
    // Everything the saga (or an operator) can reach from a new order without payment.completed.
    const reachedUnpaid = new Set<OrderStatus>(["PENDING"]);
    for (const status of reachedUnpaid) {
      for (const next of successors(
        status,
        EVERY_INPUT.filter((input) => input.type !== "payment.completed"),
      ))
        reachedUnpaid.add(next);
    }

    it("covers every status once", () => {
      expect([...ORDER_STATUSES].sort()).toEqual([...ALL].sort());
    });

    for (const status of ALL) {
      it(`${status}: terminal exactly when no input moves it`, () => {
        expect(isTerminal(status)).toBe(successors(status).length === 0);
        expect(TERMINAL_STATUSES.has(status)).toBe(isTerminal(status));
      });

      it(`${status}: a failure (with a failure reason) exactly when it is final and not DELIVERED`, () => {
        expect(FAILURE_STATUSES.has(status)).toBe(isTerminal(status) && status !== "DELIVERED");
        expect(hasFailureReason(status)).toBe(FAILURE_STATUSES.has(status));
      });

      it(`${status}: unpayable exactly when it is a failure reached before payment`, () => {
        expect(isUnpayable(status)).toBe(FAILURE_STATUSES.has(status) && reachedUnpaid.has(status));
        expect(UNPAYABLE_STATUSES.has(status)).toBe(isUnpayable(status));
      });
    }

    it("leaves out of the unpayable statuses only DELIVERY_FAILED among the failures", () => {
      expect(ALL.filter((s) => FAILURE_STATUSES.has(s) && !isUnpayable(s))).toEqual(["DELIVERY_FAILED"]);
    });
  });
});
