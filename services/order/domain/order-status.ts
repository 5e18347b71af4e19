/**
 * The order state machine: a pure function from (status, input) to an outcome, with no I/O.
 * Inputs are the saga's events and the customer's commands. Events that arrive late, twice or
 * out of order are ignored rather than moving an order backwards; commands that do not apply
 * to the current status are refused with a reason.
 */

export type OrderStatus =
  | "PENDING"
  | "RESERVED"
  | "CONFIRMED"
  | "REJECTED"
  | "PAYMENT_FAILED"
  | "CANCELLED"
  | "EXPIRED"
  | "SHIPPED"
  | "DELIVERED"
  | "DELIVERY_FAILED";

export const TERMINAL_STATUSES: ReadonlySet<OrderStatus> = new Set([
  "REJECTED",
  "PAYMENT_FAILED",
  "CANCELLED",
  "EXPIRED",
  "DELIVERED",
  "DELIVERY_FAILED",
]);

/** True when no further transition can happen. */
export function isTerminal(status: OrderStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

export type OrderInput =
  | { type: "inventory.reserved" }
  | { type: "inventory.insufficient"; reason: string }
  | { type: "inventory.released"; reason: "EXPIRED" | "OTHER" }
  | { type: "payment.completed" }
  | { type: "payment.failed"; reason: string }
  | { type: "delivery.status_changed"; to: "IN_TRANSIT" | "DELIVERED" | "FAILED" | "PENDING" | "CANCELLED" }
  | { type: "cancel"; reason: string };

/**
 * What the saga gives back when a paid order fails for good. The policy for DELIVERY_FAILED:
 * the parcel is lost or returned, so the customer gets the whole charge back and the units go
 * back to available stock (a returned parcel is restocked; a lost one is written off by an
 * AdjustStock, which keeps the movement log honest).
 */
export interface Compensation {
  refund: "full";
  restock: true;
}

export type OrderOutcome =
  /** Move to `to`; `reason` is recorded in the status history; `compensation` is owed when set. */
  | { kind: "transition"; from: OrderStatus; to: OrderStatus; reason: string; compensation?: Compensation }
  /** Nothing to do: a duplicate, late or irrelevant input. Not an error. */
  | { kind: "ignored"; why: string }
  /** A command that cannot apply now (FAILED_PRECONDITION for the caller). */
  | { kind: "refused"; why: string };

const CANCELLABLE: ReadonlySet<OrderStatus> = new Set(["PENDING", "RESERVED", "CONFIRMED"]);

function move(from: OrderStatus, to: OrderStatus, reason: string, allowed: readonly OrderStatus[]): OrderOutcome {
  if (from === to) return { kind: "ignored", why: `already ${to}` };
  if (!allowed.includes(from)) return { kind: "ignored", why: `${from} does not move to ${to}` };
  return { kind: "transition", from, to, reason };
}

/** Decides what `input` does to an order in `status`. */
export function decide(status: OrderStatus, input: OrderInput): OrderOutcome {
  switch (input.type) {
    case "inventory.reserved":
      return move(status, "RESERVED", "stock reserved", ["PENDING"]);
    case "inventory.insufficient":
      // After payment (a reservation that expired and could not be re-taken), the order is
      // cancelled so the charge is refunded; before it, the order is simply rejected.
      if (status === "CONFIRMED") return move(status, "CANCELLED", `stock no longer available: ${input.reason}`, ["CONFIRMED"]);
      return move(status, "REJECTED", input.reason, ["PENDING", "RESERVED"]);
    case "inventory.released":
      if (input.reason !== "EXPIRED") return { kind: "ignored", why: "release is a consequence, not a cause" };
      return move(status, "EXPIRED", "reservation expired before payment", ["PENDING", "RESERVED"]);
    case "payment.completed":
      // PENDING is allowed: payment.completed may be consumed before inventory.reserved.
      return move(status, "CONFIRMED", "payment completed", ["PENDING", "RESERVED"]);
    case "payment.failed":
      return move(status, "PAYMENT_FAILED", input.reason, ["PENDING", "RESERVED"]);
    case "delivery.status_changed":
      switch (input.to) {
        case "IN_TRANSIT":
          return move(status, "SHIPPED", "delivery in transit", ["CONFIRMED"]);
        case "DELIVERED":
          return move(status, "DELIVERED", "delivered", ["CONFIRMED", "SHIPPED"]);
        case "FAILED": {
          const outcome = move(status, "DELIVERY_FAILED", "delivery failed", ["CONFIRMED", "SHIPPED"]);
          return outcome.kind === "transition" ? { ...outcome, compensation: { refund: "full", restock: true } } : outcome;
        }
        default:
          return { kind: "ignored", why: `delivery ${input.to} does not change the order` };
      }
    case "cancel":
      if (status === "CANCELLED") return { kind: "ignored", why: "already CANCELLED" };
      if (!CANCELLABLE.has(status)) return { kind: "refused", why: `order is ${status} and can no longer be cancelled` };
      return { kind: "transition", from: status, to: "CANCELLED", reason: input.reason || "cancelled by customer" };
  }
}
