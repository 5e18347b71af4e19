/**
 * The order state machine: a pure function from (status, input) to an outcome, with no I/O.
 * Inputs are the saga's events and the customer's commands. Events that arrive late, twice or
 * out of order are ignored rather than moving an order backwards; commands that do not apply
 * to the current status are refused with a reason.
 */

export type OrderStatus =
  "PENDING" | "RESERVED" | "CONFIRMED" | "REJECTED" | "PAYMENT_FAILED" | "CANCELLED" | "EXPIRED" | "SHIPPED" | "DELIVERED" | "DELIVERY_FAILED";

/**
 * What each status says about an order, stated once; every status set and predicate below is
 * derived from this table.
 * - `outcome`: "open" while transitions may still leave the status; otherwise how the order ended.
 * - `unpaid`: the saga can reach the status before the order was paid for. CANCELLED can be
 *   reached both before and after payment and counts as unpaid. DELIVERY_FAILED cannot: only a
 *   CONFIRMED or SHIPPED order fails delivery, and its refund is the saga's compensation.
 */
const STATUS_TRAITS: Readonly<Record<OrderStatus, { outcome: "open" | "success" | "failure"; unpaid: boolean }>> = {
  PENDING: { outcome: "open", unpaid: true },
  RESERVED: { outcome: "open", unpaid: true },
  CONFIRMED: { outcome: "open", unpaid: false },
  REJECTED: { outcome: "failure", unpaid: true },
  PAYMENT_FAILED: { outcome: "failure", unpaid: true },
  CANCELLED: { outcome: "failure", unpaid: true },
  EXPIRED: { outcome: "failure", unpaid: true },
  SHIPPED: { outcome: "open", unpaid: false },
  DELIVERED: { outcome: "success", unpaid: false },
  DELIVERY_FAILED: { outcome: "failure", unpaid: false },
};

/** Every status, in the order of the table (and of the status columns' enum in entities.ts). */
export const ORDER_STATUSES: readonly OrderStatus[] = Object.keys(STATUS_TRAITS) as OrderStatus[];

function statusesWhere(test: (traits: (typeof STATUS_TRAITS)[OrderStatus]) => boolean): ReadonlySet<OrderStatus> {
  return new Set(ORDER_STATUSES.filter((status) => test(STATUS_TRAITS[status])));
}

/** Final statuses: no further transition can happen. */
export const TERMINAL_STATUSES = statusesWhere((t) => t.outcome !== "open");

/** Final statuses that are failures: the order's failure_reason says how it ended. */
export const FAILURE_STATUSES = statusesWhere((t) => t.outcome === "failure");

/**
 * Failures reached before the order was paid for: a payment that completes now has nothing to
 * pay for and must be refunded. Every failure but DELIVERY_FAILED (see STATUS_TRAITS).
 */
export const UNPAYABLE_STATUSES = statusesWhere((t) => t.outcome === "failure" && t.unpaid);

/** True when no further transition can happen. */
export function isTerminal(status: OrderStatus): boolean {
  return TERMINAL_STATUSES.has(status);
}

/** True when `failure_reason` explains how an order in `status` ended. */
export function hasFailureReason(status: OrderStatus): boolean {
  return FAILURE_STATUSES.has(status);
}

/** True when a completed payment finds the order in `status` with nothing to pay for. */
export function isUnpayable(status: OrderStatus): boolean {
  return UNPAYABLE_STATUSES.has(status);
}

export type OrderInput =
  | { type: "inventory.reserved" }
  | { type: "inventory.insufficient"; reason: string }
  | { type: "inventory.released"; reason: "EXPIRED" | "OTHER" }
  | { type: "payment.completed" }
  | { type: "payment.failed"; reason: string }
  | { type: "delivery.status_changed"; to: "IN_TRANSIT" | "DELIVERED" | "FAILED" | "PENDING" | "CANCELLED" }
  | { type: "cancel"; reason: string }
  /** An operator sets the status by hand (UpdateOrderStatus); see OPERATOR_STATUSES. */
  | { type: "operator.set_status"; to: OrderStatus; reason: string };

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

/** Where shipping and its outcomes may come from; shared by delivery events and operators. */
const SHIPPABLE: readonly OrderStatus[] = ["CONFIRMED"];
const DELIVERABLE: readonly OrderStatus[] = ["CONFIRMED", "SHIPPED"];

/**
 * The statuses an operator may set by hand: those the delivery side (or a cancellation)
 * would. Every other status records a fact only the saga knows (stock reserved, payment
 * taken or declined, reservation expired) and is never set by hand.
 */
export const OPERATOR_STATUSES: ReadonlySet<OrderStatus> = new Set(["SHIPPED", "DELIVERED", "DELIVERY_FAILED", "CANCELLED"]);

function move(from: OrderStatus, to: OrderStatus, reason: string, allowed: readonly OrderStatus[]): OrderOutcome {
  if (from === to) return { kind: "ignored", why: `already ${to}` };
  if (!allowed.includes(from)) return { kind: "ignored", why: `${from} does not move to ${to}` };
  return { kind: "transition", from, to, reason };
}

/** A command's move: as {@link move}, but a transition that does not apply is refused, not ignored. */
function command(from: OrderStatus, to: OrderStatus, reason: string, allowed: ReadonlySet<OrderStatus>): OrderOutcome {
  if (from === to) return { kind: "ignored", why: `already ${to}` };
  if (!allowed.has(from)) return { kind: "refused", why: `order is ${from} and cannot become ${to}` };
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
          return move(status, "SHIPPED", "delivery in transit", SHIPPABLE);
        case "DELIVERED":
          return move(status, "DELIVERED", "delivered", DELIVERABLE);
        case "FAILED": {
          const outcome = move(status, "DELIVERY_FAILED", "delivery failed", DELIVERABLE);
          return outcome.kind === "transition" ? { ...outcome, compensation: { refund: "full", restock: true } } : outcome;
        }
        default:
          return { kind: "ignored", why: `delivery ${input.to} does not change the order` };
      }
    case "cancel":
      if (status === "CANCELLED") return { kind: "ignored", why: "already CANCELLED" };
      if (!CANCELLABLE.has(status)) return { kind: "refused", why: `order is ${status} and can no longer be cancelled` };
      return { kind: "transition", from: status, to: "CANCELLED", reason: input.reason || "cancelled by customer" };
    case "operator.set_status": {
      const reason = input.reason || `set to ${input.to} by an operator`;
      switch (input.to) {
        case "SHIPPED":
          return command(status, "SHIPPED", reason, new Set(SHIPPABLE));
        case "DELIVERED":
        case "DELIVERY_FAILED":
          return command(status, input.to, reason, new Set(DELIVERABLE));
        case "CANCELLED":
          return command(status, "CANCELLED", reason, CANCELLABLE);
        default:
          return { kind: "refused", why: `${input.to} is set only by the order saga, never by hand` };
      }
    }
  }
}
