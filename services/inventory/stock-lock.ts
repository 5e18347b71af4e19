import type { EntityManager } from "@mikro-orm/postgresql";
import { sql as query } from "../../lib/db/index.js";
import { isUuid } from "../../lib/ids.js";
import type { Line, StockLevel } from "./domain/stock.js";

/**
 * The one place that reads stock for a change: the product rows (as domain `StockLevel`s) and
 * the reservations of some orders (with their lines), under lock and in one statement, kept for
 * the rest of the transaction. Every stock change decides on these rows (reservation changes, and
 * replenish and adjust through `lockStock`), and the writes keep them current, so a consumer
 * batch reads its state once (in `beforeBatch`) and writes it once (stock-write.ts).
 *
 * Lock order: the reservations (by order id), then the products (by product id). The products
 * are read from the locked reservations' lines, so the statement cannot take them first; the
 * RPCs and the expiry sweeper lock in the same order, and sorted locks cannot deadlock.
 */

export type ReservationStatus = "ACTIVE" | "COMMITTED" | "RELEASED" | "EXPIRED";

export interface ReservationRow {
  id: string;
  orderId: string;
  customerId: string;
  status: ReservationStatus;
  expiresAt: Date;
  createdAt: Date;
  updatedAt: Date;
  lines: Line[];
  /** Why it was released (RELEASED and EXPIRED only). */
  releaseReason: string | null;
}

/** What a transaction holds locked: undefined = not read yet, null = read and absent. */
export interface LockedState {
  readonly reservations: Map<string, ReservationRow | null>;
  readonly stock: Map<string, StockLevel | null>;
  /** The transaction's `now()`, every timestamp its writes set (undefined until a lock statement ran). */
  now?: Date;
}

/** A reservations row with its lines as JSON. */
const RESERVATION_SELECT = `SELECT r.id, r.order_id, r.customer_id, r.status, r.expires_at, r.release_reason, r.created_at, r.updated_at,
  (SELECT coalesce(json_agg(json_build_object('productId', l.product_id, 'quantity', l.quantity) ORDER BY l.product_id), '[]'::json)
     FROM reservation_lines l WHERE l.reservation_id = r.id) AS lines
  FROM reservations r`;

interface ReservationRecord {
  id: string;
  order_id: string;
  customer_id: string;
  status: ReservationStatus;
  expires_at: string | Date;
  release_reason: string | null;
  created_at: string | Date;
  updated_at: string | Date;
  lines: Line[];
}

interface ProductRecord {
  id: string;
  status: StockLevel["status"];
  available: number;
  reserved: number;
  sold: number;
  low_stock_threshold: number;
}

function toReservation(row: ReservationRecord): ReservationRow {
  return {
    id: row.id,
    orderId: row.order_id,
    customerId: row.customer_id,
    status: row.status,
    expiresAt: new Date(row.expires_at),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    lines: row.lines.map((l) => ({ productId: l.productId, quantity: Number(l.quantity) })),
    releaseReason: row.release_reason ?? null,
  };
}

function toLevel(row: ProductRecord): StockLevel {
  return {
    productId: row.id,
    status: row.status,
    available: Number(row.available),
    reserved: Number(row.reserved),
    sold: Number(row.sold),
    lowStockThreshold: Number(row.low_stock_threshold),
  };
}

// Keyed by the transaction (not the EntityManager): what was read under lock is only true
// while that transaction holds the locks, and a retry runs in a new one.
const held = new WeakMap<object, LockedState>();

function stateOf(em: EntityManager): LockedState {
  const trx = em.getTransactionContext<object>();
  const fresh: LockedState = { reservations: new Map(), stock: new Map() };
  if (!trx) return fresh;
  let state = held.get(trx);
  if (!state) held.set(trx, (state = fresh));
  return state;
}

/**
 * Locks (and remembers for the transaction) the reservations of `orderIds`, the products their
 * lines hold and the products in `productIds`, skipping what the transaction already holds; no
 * statement at all when it holds everything. Ids are keyed in lower case, as PostgreSQL prints
 * them; ids that are not UUIDs are left out (the callers reject them).
 */
export async function lockReservationsAndStock(em: EntityManager, ids: { orderIds?: readonly string[]; productIds?: readonly string[] }): Promise<LockedState> {
  const state = stateOf(em);
  const unread = (list: readonly string[] | undefined, read: Map<string, unknown>) => [
    ...new Set(
      (list ?? [])
        .filter(isUuid)
        .map((id) => id.toLowerCase())
        .filter((id) => !read.has(id)),
    ),
  ];
  const orderIds = unread(ids.orderIds, state.reservations);
  const productIds = unread(ids.productIds, state.stock);
  if (orderIds.length === 0 && productIds.length === 0) return state;
  const [row] = await query<{ reservations: ReservationRecord[]; products: ProductRecord[]; now: Date }>(
    em,
    `WITH r AS (${RESERVATION_SELECT} WHERE r.order_id = ANY(?::uuid[]) ORDER BY r.order_id FOR UPDATE OF r),
     p AS (
       SELECT id, status, available, reserved, sold, low_stock_threshold FROM products
       WHERE id IN (SELECT unnest(?::uuid[]) UNION SELECT (json_array_elements(r.lines) ->> 'productId')::uuid FROM r)
       ORDER BY id FOR UPDATE
     )
     SELECT (SELECT coalesce(json_agg(r), '[]'::json) FROM r) AS reservations, (SELECT coalesce(json_agg(p), '[]'::json) FROM p) AS products, now() AS now`,
    [orderIds, productIds],
  );
  state.now = new Date(row.now);
  for (const id of orderIds) state.reservations.set(id, null);
  for (const id of productIds) state.stock.set(id, null);
  for (const record of row.reservations) state.reservations.set(record.order_id, toReservation(record));
  for (const record of row.products) state.stock.set(record.id, toLevel(record));
  return state;
}

/**
 * Locks (and remembers for the transaction) the product rows of `productIds`, for a change that
 * involves no reservation (replenish, adjust). No statement when the transaction holds them.
 */
export async function lockStock(em: EntityManager, productIds: readonly string[]): Promise<LockedState> {
  return lockReservationsAndStock(em, { productIds });
}

/**
 * Forgets that `orderId` had no reservation: another transaction inserted one since (its insert
 * won on order_id), so the next `lockReservationsAndStock` reads and locks it.
 */
export function forgetReservation(em: EntityManager, orderId: string): void {
  stateOf(em).reservations.delete(orderId);
}
