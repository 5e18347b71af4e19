/**
 * The delivery state machine, as pure functions with no I/O:
 *
 *   PENDING ──> IN_TRANSIT ──> DELIVERED
 *      │            └────────> FAILED
 *      ├──────────────────────> FAILED
 *      └──────────────────────> CANCELLED
 *
 * DELIVERED, FAILED and CANCELLED are final. Setting the current status again is not a
 * transition (and not an error): the caller returns the delivery unchanged.
 */

export const DELIVERY_STATUSES = ["PENDING", "IN_TRANSIT", "DELIVERED", "FAILED", "CANCELLED"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

const NEXT: Record<DeliveryStatus, readonly DeliveryStatus[]> = {
  PENDING: ["IN_TRANSIT", "FAILED", "CANCELLED"],
  IN_TRANSIT: ["DELIVERED", "FAILED"],
  DELIVERED: [],
  FAILED: [],
  CANCELLED: [],
};

/** The statuses `status` may move to. */
export function nextStatuses(status: DeliveryStatus): readonly DeliveryStatus[] {
  return NEXT[status];
}

/** True when no further transition can happen. */
export function isFinal(status: DeliveryStatus): boolean {
  return NEXT[status].length === 0;
}

/** True once the parcel left with the carrier: the order can no longer be cancelled. */
export function hasShipped(status: DeliveryStatus): boolean {
  return status === "IN_TRANSIT" || status === "DELIVERED";
}

export type TransitionOutcome =
  | { kind: "transition"; from: DeliveryStatus; to: DeliveryStatus }
  /** Already in the requested status: nothing to record. */
  | { kind: "unchanged"; status: DeliveryStatus }
  /** Not allowed (FAILED_PRECONDITION for the caller); `why` names both statuses. */
  | { kind: "refused"; why: string };

/** Decides whether a delivery in `from` may move to `to`. */
export function decideTransition(from: DeliveryStatus, to: DeliveryStatus): TransitionOutcome {
  if (from === to) return { kind: "unchanged", status: from };
  if (NEXT[from].includes(to)) return { kind: "transition", from, to };
  const allowed = NEXT[from].length === 0 ? `${from} is final` : `from ${from} only ${NEXT[from].join(", ")} are allowed`;
  return { kind: "refused", why: `a delivery cannot move from ${from} to ${to}: ${allowed}` };
}

export type CancelOutcome =
  | { kind: "cancel"; from: DeliveryStatus }
  /** Nothing to do. `warn` marks the case an operator should look at (cancelled after shipping). */
  | { kind: "ignore"; why: string; warn: boolean };

/** What `order.cancelled` does to the order's delivery in `status`. */
export function onOrderCancelled(status: DeliveryStatus): CancelOutcome {
  if (status === "PENDING") return { kind: "cancel", from: status };
  if (status === "CANCELLED") return { kind: "ignore", why: "delivery already CANCELLED", warn: false };
  if (hasShipped(status)) return { kind: "ignore", why: `order cancelled but its delivery is already ${status}; left as it is`, warn: true };
  return { kind: "ignore", why: `delivery is ${status} (final)`, warn: false };
}
