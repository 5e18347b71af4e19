import { beforeCommit, type EntityManager } from "../../lib/db/index.js";
import type { OutboxRecord } from "../../lib/events/index.js";
import { isUuid } from "../../lib/ids.js";
import { decide, type OrderInput, type OrderOutcome } from "./domain/order-status.js";
import { failureReasonOf, type StatusChange } from "./domain/status-changes.js";
import { transitionEvent, type TransitionDetails } from "./events.js";
import { countTransition } from "./metrics.js";
import { type LockedOrder, lockOrders, writeStatusChanges } from "./order-store.js";

/**
 * The orders one transaction changes: locked together in one statement first, decided on from
 * what that statement read (as each decision leaves them), and written together in one
 * statement just before the commit, with their history and their events. A consumer batch thus
 * costs two statements however many of its events move orders.
 */

interface OrderBatch {
  readonly orders: Map<string, LockedOrder>;
  readonly changes: StatusChange[];
  readonly events: OutboxRecord[];
}

const batches = new WeakMap<object, OrderBatch>();

function batchOf(em: EntityManager): OrderBatch {
  const trx = em.getTransactionContext();
  const batch = trx && batches.get(trx);
  if (!batch) throw new Error("the transaction has locked no orders: call lockBatch first (a consumer's beforeBatch)");
  return batch;
}

/**
 * Locks the orders among `orderIds` that exist (duplicates and ids that are not UUIDs are left
 * out: their handlers refuse them) for the rest of `em`'s transaction. Call once per
 * transaction, before any decision. With `confirmation`, each order comes with what
 * order.confirmed needs.
 */
export async function lockBatch(em: EntityManager, orderIds: readonly string[], options: { confirmation?: boolean } = {}): Promise<void> {
  const trx = em.getTransactionContext();
  if (!trx) throw new Error("lockBatch must run inside a transaction: its locks last until the commit");
  if (batches.has(trx)) throw new Error("lockBatch runs once per transaction: locking more later could deadlock");
  const ids = [...new Set(orderIds.filter(isUuid).map((id) => id.toLowerCase()))];
  batches.set(trx, { orders: await lockOrders(em, ids, options), changes: [], events: [] });
}

/** The order as the transaction has it now, or undefined when it does not exist (or was not locked). */
export function lockedOrder(em: EntityManager, orderId: string): LockedOrder | undefined {
  return batchOf(em).orders.get(orderId);
}

/** What an input did to its order. */
export type InputEffect =
  | { kind: "transition"; before: LockedOrder["status"]; after: LockedOrder; outcome: Extract<OrderOutcome, { kind: "transition" }> }
  | { kind: "ignored"; order: LockedOrder; why: string }
  | { kind: "refused"; order: LockedOrder; why: string };

/** What a transition records besides the state machine's outcome. */
export interface InputSource {
  /** The event that caused it; null for an RPC. */
  eventId: string | null;
  /** payment.completed: kept on the order when it becomes CONFIRMED. */
  payment?: { paymentId: string; cardLast4: string };
  details?: TransitionDetails;
}

/**
 * Applies `input` to the locked `order` of `em`'s transaction: the state machine decides; a
 * transition changes the order as the transaction sees it (a later input of the same
 * transaction decides from there) and queues its row update, history row and order event,
 * which are written just before the commit. Nothing is written now.
 */
export function applyInput(em: EntityManager, order: LockedOrder, input: OrderInput, source: InputSource): InputEffect {
  const batch = batchOf(em);
  const outcome = decide(order.status, input);
  if (outcome.kind !== "transition") return { ...outcome, order };
  const payment = outcome.to === "CONFIRMED" ? source.payment : undefined;
  const after: LockedOrder = {
    ...order,
    status: outcome.to,
    failureReason: failureReasonOf(outcome.to, outcome.reason),
    paymentId: payment?.paymentId ?? order.paymentId,
    cardLast4: payment?.cardLast4 ?? order.cardLast4,
    updatedAt: new Date(),
    version: order.version + 1,
  };
  batch.orders.set(order.id, after);
  if (batch.changes.length === 0) beforeCommit(em, () => writeStatusChanges(em, batch.changes, batch.events));
  batch.changes.push({ orderId: order.id, from: outcome.from, to: outcome.to, reason: outcome.reason, eventId: source.eventId, payment });
  const event = transitionEvent(outcome.from, after, outcome.reason, source.details, outcome.compensation);
  if (event) batch.events.push(event);
  countTransition(em, after);
  return { kind: "transition", before: outcome.from, after, outcome };
}
