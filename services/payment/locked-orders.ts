import type { EntityManager } from "@mikro-orm/postgresql";
import { isUuid } from "../../lib/ids.js";
import type { PaymentRow } from "./entities.js";
import { type Intent, lockOrders, readOrders } from "./payment-store.js";

/**
 * One order's payment state inside a consumer transaction that holds its lock. Handlers decide
 * from it instead of asking the database, and keep it current with what they write, so that a
 * later event of the same order in the same batch sees the earlier one's effect.
 */
export interface LockedOrder {
  readonly orderId: string;
  intent: Intent | undefined;
  payment: PaymentRow | undefined;
}

/** What a transaction locked and read, with its now(). */
interface Locked {
  orders: Map<string, LockedOrder>;
  now?: Date;
}

// Per transaction (each consumer transaction has an EntityManager of its own): gone with it,
// so a batch that rolled back leaves nothing behind for the one-at-a-time retry.
const lockedIn = new WeakMap<EntityManager, Locked>();

/**
 * Locks the orders of `orderIds` for the rest of `em`'s transaction and reads their intents and
 * payments: two statements for a whole consumer batch (its `beforeBatch`), instead of a lock and
 * reads per event. Ids that are not UUIDs are left to the handlers, which reject them.
 */
export async function lockOrdersFirst(em: EntityManager, orderIds: readonly string[]): Promise<void> {
  const locked = lockedIn.get(em) ?? { orders: new Map<string, LockedOrder>() };
  lockedIn.set(em, locked);
  const ids = [...new Set(orderIds.filter(isUuid).map((id) => id.toLowerCase()))].filter((id) => !locked.orders.has(id));
  if (ids.length === 0) return;
  await lockOrders(em, ids);
  // Only after the locks were granted: this statement's snapshot then sees what the previous holder committed.
  const read = await readOrders(em, ids);
  locked.now = read.now;
  for (const orderId of ids) {
    const found = read.orders.get(orderId);
    locked.orders.set(orderId, { orderId, intent: found?.intent, payment: found?.payment });
  }
}

/** The now() of `em`'s transaction, the time every row it writes is stamped with; read by `lockOrdersFirst`. */
export function lockedNow(em: EntityManager): Date {
  const now = lockedIn.get(em)?.now;
  if (!now) throw new Error("the transaction locked no order: lock them in beforeBatch (lockOrdersFirst)");
  return now;
}

/**
 * The locked state of `orderId` (a lower-case UUID) in `em`'s transaction. Throws unless the
 * batch locked it first: a lock taken here, after the batch's sorted ones, could deadlock.
 */
export function lockedOrder(em: EntityManager, orderId: string): LockedOrder {
  const known = lockedIn.get(em)?.orders.get(orderId);
  if (!known) throw new Error(`order ${orderId} was not locked by its batch: lock it in beforeBatch (lockOrdersFirst)`);
  return known;
}
