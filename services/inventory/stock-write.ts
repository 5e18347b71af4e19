import type { EntityManager } from "@mikro-orm/postgresql";
import { CommitQueue, sql as query } from "../../lib/db/index.js";
import { uuidv7 } from "../../lib/ids.js";
import { currentTraceParent } from "../../lib/telemetry/index.js";
import type { Line, StockChange } from "./domain/stock.js";
import type { ReservationStatus } from "./stock-lock.js";

/**
 * The one SQL that writes stock: reservation rows and their lines, the product counters a move
 * changes, and the stock_movements rows that log it, as data-modifying CTEs of ONE statement fed
 * from unnest() arrays, so the counters and the log never disagree. The caller has locked what
 * it writes (stock-lock.ts) and decided (domain/) that the change is allowed; the CHECK
 * constraints on the counters are the last line against a wrong decision.
 *
 * A transaction writes at once, one statement per change, unless it called `deferStockWrites`:
 * then its changes are queued and written together just before it commits. A consumer batch
 * does that, so that thirty orders cost one write, not thirty round trips, each of which wakes
 * PostgreSQL and the service. The values the callers publish (timestamps, ids) never come back
 * from the write: ids are made here, and every timestamp is the transaction's `now()`, which the
 * lock statement read.
 */

export type MovementType = "RESERVE" | "RELEASE" | "COMMIT" | "EXPIRE" | "REPLENISH" | "ADJUST";

/** Units moved between a product's counters, and their audit rows. */
export interface StockMove {
  /** The quantities as logged: negative only for a correction downward (ADJUST). */
  lines: readonly Line[];
  /** The counters the quantities are added to (+1) or taken from (-1); none: the move only logs. */
  change: StockChange;
  type: MovementType;
  /** The stock_movements reason. */
  note: string;
}

/** A reservation as a write created it. */
export interface WrittenReservation {
  id: string;
  expiresAt: Date;
  createdAt: Date;
  updatedAt: Date;
}

interface NewReservation {
  id: string;
  orderId: string;
  customerId: string;
  status: ReservationStatus;
  reason: string | null;
  ttlMs: number;
  lines: readonly Line[];
  traceParent: string | null;
}

interface Movement {
  move: StockMove;
  orderId: string | null;
  /** Set for the move of a reservation insert: it applies only if the insert does. */
  insertedWith?: string;
}

/** What a transaction has still to write. */
class PendingWrites {
  readonly inserts = new Map<string, NewReservation>();
  readonly updates = new Map<string, { status: ReservationStatus; reason: string | null }>();
  readonly moves: Movement[] = [];

  update(id: string, status: ReservationStatus, reason: string | null): void {
    // A reservation inserted and changed before the commit is inserted as it ends up.
    const inserted = this.inserts.get(id);
    const target = inserted ?? this.updates.get(id);
    if (target) {
      target.status = status;
      target.reason = reason ?? target.reason;
    } else this.updates.set(id, { status, reason });
  }
}

/** The writes of transactions that called `deferStockWrites`, made just before they commit. */
const deferred = new CommitQueue<PendingWrites>(
  () => new PendingWrites(),
  async (em, pending) => {
    const inserted = await flush(em, pending);
    const lost = [...pending.inserts.values()].find((row) => !inserted.has(row.id));
    if (lost) throw new Error(`a concurrent transaction reserved for order ${lost.orderId} first; its events are applied again one at a time`);
  },
);

/**
 * Queues this transaction's stock writes until just before it commits, where they are made in
 * one statement. If a reservation insert then loses to a concurrent one for the same order, the
 * commit fails and the transaction rolls back: for a consumer batch, whose events are then
 * applied one at a time, and each of those writes at once and decides again on the row that won.
 */
export function deferStockWrites(em: EntityManager): void {
  deferred.of(em);
}

/** Runs `queue` on pending writes: made now, unless the transaction defers them. Returns the ids of the reservations inserted now. */
async function write(em: EntityManager, queue: (pending: PendingWrites) => void): Promise<Set<string> | undefined> {
  const pending = deferred.peek(em);
  if (pending) {
    queue(pending);
    return undefined;
  }
  const now = new PendingWrites();
  queue(now);
  return flush(em, now);
}

/** The statement that writes everything `pending` holds; returns the ids of the reservations it inserted. */
async function flush(em: EntityManager, pending: PendingWrites): Promise<Set<string>> {
  const inserts = [...pending.inserts.values()];
  const lines = inserts.flatMap((row) => row.lines.map((line) => ({ reservationId: row.id, ...line })));
  const updates = [...pending.updates];
  const movements = pending.moves.flatMap(({ move, orderId, insertedWith }) =>
    move.lines.map((line) => ({ ...line, orderId, insertedWith: insertedWith ?? null, move })),
  );
  const [row] = await query<{ inserted: string[] }>(
    em,
    `WITH ins AS (
       INSERT INTO reservations (id, order_id, customer_id, status, expires_at, release_reason, trace_parent)
       SELECT i.id, i.order_id, i.customer_id, i.status, now() + i.ttl_ms * interval '1 millisecond', i.reason, i.trace_parent
       FROM unnest(?::uuid[], ?::uuid[], ?::text[], ?::text[], ?::float8[], ?::text[], ?::text[]) AS i(id, order_id, customer_id, status, ttl_ms, reason, trace_parent)
       ON CONFLICT (order_id) DO NOTHING
       RETURNING id
     ),
     held AS (
       INSERT INTO reservation_lines (reservation_id, product_id, quantity)
       SELECT l.reservation_id, l.product_id, l.quantity FROM unnest(?::uuid[], ?::uuid[], ?::int[]) AS l(reservation_id, product_id, quantity)
       WHERE l.reservation_id IN (SELECT id FROM ins)
     ),
     changed AS (
       UPDATE reservations r SET status = u.status, release_reason = coalesce(u.reason, r.release_reason), updated_at = now()
       FROM unnest(?::uuid[], ?::text[], ?::text[]) AS u(id, status, reason) WHERE r.id = u.id
     ),
     m AS (
       SELECT * FROM unnest(?::uuid[], ?::uuid[], ?::uuid[], ?::uuid[], ?::int[], ?::text[], ?::text[], ?::int[], ?::int[], ?::int[])
         AS m(id, product_id, order_id, inserted_with, quantity, type, reason, d_available, d_reserved, d_sold)
       WHERE m.inserted_with IS NULL OR m.inserted_with IN (SELECT id FROM ins)
     ),
     moved AS (
       UPDATE products p
       SET available = p.available + d.available, reserved = p.reserved + d.reserved, sold = p.sold + d.sold, version = p.version + 1, updated_at = now()
       FROM (
         SELECT product_id, sum(quantity * d_available) AS available, sum(quantity * d_reserved) AS reserved, sum(quantity * d_sold) AS sold
         FROM m WHERE d_available <> 0 OR d_reserved <> 0 OR d_sold <> 0 GROUP BY product_id
       ) d
       WHERE p.id = d.product_id
     ),
     logged AS (
       INSERT INTO stock_movements (id, product_id, order_id, type, quantity, reason) SELECT id, product_id, order_id, type, quantity, reason FROM m
     )
     SELECT coalesce(array_agg(id), '{}') AS inserted FROM ins`,
    [
      inserts.map((r) => r.id),
      inserts.map((r) => r.orderId),
      inserts.map((r) => r.customerId),
      inserts.map((r) => r.status),
      inserts.map((r) => r.ttlMs),
      inserts.map((r) => r.reason),
      inserts.map((r) => r.traceParent),
      lines.map((l) => l.reservationId),
      lines.map((l) => l.productId),
      lines.map((l) => l.quantity),
      updates.map(([id]) => id),
      updates.map(([, u]) => u.status),
      updates.map(([, u]) => u.reason),
      movements.map(() => uuidv7()),
      movements.map((m) => m.productId),
      movements.map((m) => m.orderId),
      movements.map((m) => m.insertedWith),
      movements.map((m) => m.quantity),
      movements.map((m) => m.move.type),
      movements.map((m) => m.move.note),
      movements.map((m) => m.move.change.available ?? 0),
      movements.map((m) => m.move.change.reserved ?? 0),
      movements.map((m) => m.move.change.sold ?? 0),
    ],
  );
  return new Set(row.inserted.map((id) => id.toLowerCase()));
}

/**
 * Inserts the order's reservation with `lines`, applying `move` with it. `now` is the
 * transaction's `now()`. Undefined when a concurrent transaction's reservation for the order won
 * (then nothing was written); a deferred insert that loses fails the commit instead.
 */
export async function insertReservation(
  em: EntityManager,
  now: Date,
  orderId: string,
  row: { customerId: string; status: ReservationStatus; reason: string | null; ttlMs: number; lines: readonly Line[] },
  move?: StockMove,
): Promise<WrittenReservation | undefined> {
  const id = uuidv7();
  const inserted = await write(em, (pending) => {
    pending.inserts.set(id, { id, orderId, ...row, traceParent: currentTraceParent() ?? null });
    if (move) pending.moves.push({ move, orderId, insertedWith: id });
  });
  if (inserted && !inserted.has(id)) return undefined;
  return { id, expiresAt: new Date(now.getTime() + row.ttlMs), createdAt: now, updatedAt: now };
}

/**
 * Sets a reservation's status (and release reason, when given), applying `move` with it;
 * returns the row's new updated_at, the transaction's `now`.
 */
export async function updateReservation(
  em: EntityManager,
  now: Date,
  reservation: { id: string; orderId: string },
  status: ReservationStatus,
  reason: string | null,
  move?: StockMove,
): Promise<Date> {
  await write(em, (pending) => {
    pending.update(reservation.id, status, reason);
    if (move) pending.moves.push({ move, orderId: reservation.orderId });
  });
  return now;
}

/** Applies `move`, for no order (replenish, adjust, initial stock). */
export async function moveStock(em: EntityManager, move: StockMove): Promise<void> {
  if (move.lines.length === 0) return;
  await write(em, (pending) => pending.moves.push({ move, orderId: null }));
}
