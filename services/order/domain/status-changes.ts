import { hasFailureReason, type OrderStatus } from "./order-status.js";

/**
 * The status changes a transaction makes, and the one row update per order that writes them.
 * A consumer batch may move one order twice (delivery IN_TRANSIT then DELIVERED); an UPDATE
 * joined to a list of changes applies only one of them to a row, so the changes of an order are
 * folded into one update here, while every change keeps its own history row.
 */

/** One transition of an order, as order_status_history records it. */
export interface StatusChange {
  orderId: string;
  from: OrderStatus;
  to: OrderStatus;
  reason: string;
  /** The event that caused it; null for an RPC. */
  eventId: string | null;
  /** Set by payment.completed. */
  payment?: { paymentId: string; cardLast4: string };
}

/** Longest failure reason or history reason stored. */
const MAX_REASON = 1000;

/** The reason as stored (history rows and failure_reason are capped). */
export function storedReason(reason: string): string {
  return reason.slice(0, MAX_REASON);
}

/** The order's failure_reason once it is `to`: the reason of a failure, else empty. */
export function failureReasonOf(to: OrderStatus, reason: string): string {
  return hasFailureReason(to) ? storedReason(reason) : "";
}

/** The update that takes an order through all its changes of a transaction. */
export interface OrderUpdate {
  orderId: string;
  /** The status the order must have before (the first change's `from`): the guard of the update. */
  from: OrderStatus;
  to: OrderStatus;
  failureReason: string;
  /** null keeps what the order has. */
  paymentId: string | null;
  cardLast4: string | null;
  /** How many changes: the order's version grows by one per change. */
  steps: number;
}

/**
 * Folds `changes` (in the order they were made) into one update per order, in the order of each
 * order's first change. Throws when an order's changes do not follow on from each other: a bug,
 * which must roll the transaction back rather than record a history the order never had.
 */
export function orderUpdates(changes: readonly StatusChange[]): OrderUpdate[] {
  const updates = new Map<string, OrderUpdate>();
  for (const change of changes) {
    const previous = updates.get(change.orderId);
    if (previous && previous.to !== change.from) {
      throw new Error(`order ${change.orderId}: a change from ${change.from} follows one to ${previous.to}`);
    }
    updates.set(change.orderId, {
      orderId: change.orderId,
      from: previous?.from ?? change.from,
      to: change.to,
      failureReason: failureReasonOf(change.to, change.reason),
      paymentId: change.payment?.paymentId ?? previous?.paymentId ?? null,
      cardLast4: change.payment?.cardLast4 ?? previous?.cardLast4 ?? null,
      steps: (previous?.steps ?? 0) + 1,
    });
  }
  return [...updates.values()];
}
