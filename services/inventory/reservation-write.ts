import type { EntityManager } from "@mikro-orm/postgresql";
import { sql as query } from "../../lib/db/index.js";
import { uuidv7 } from "../../lib/ids.js";
import { currentTraceParent } from "../../lib/telemetry/index.js";
import type { Line } from "./domain/stock.js";
import type { ReservationStatus } from "./stock-lock.js";
import { moveCtes, type StockMove } from "./stock-write.js";

/**
 * Each change of a reservation as ONE statement: the reservation row (inserted or updated), its
 * lines, and the stock move that goes with it (stock-write.ts), as data-modifying CTEs fed from
 * unnest() arrays. Every CTE reads the reservation CTE `r`, so when an insert loses on order_id
 * nothing else is written either.
 */

/** The columns a write returns for the reservation it wrote. */
export interface WrittenReservation {
  id: string;
  expiresAt: Date;
  createdAt: Date;
  updatedAt: Date;
}

interface WrittenRecord {
  id: string;
  expires_at: Date;
  created_at: Date;
  updated_at: Date;
}

function written(row: WrittenRecord): WrittenReservation {
  return { id: row.id, expiresAt: new Date(row.expires_at), createdAt: new Date(row.created_at), updatedAt: new Date(row.updated_at) };
}

/**
 * Inserts the order's reservation with `lines`, applying `move` with it. Undefined when a
 * concurrent transaction's reservation for the order won (then nothing was written).
 */
export async function insertReservation(
  em: EntityManager,
  orderId: string,
  row: { customerId: string; status: ReservationStatus; reason: string | null; ttlMs: number; lines: readonly Line[] },
  move?: StockMove,
): Promise<WrittenReservation | undefined> {
  const moves = moveCtes(move);
  const lines = row.lines.length > 0;
  const [inserted] = await query<WrittenRecord>(
    em,
    `WITH r AS (
       INSERT INTO reservations (id, order_id, customer_id, status, expires_at, release_reason, trace_parent)
       VALUES (?, ?, ?, ?, now() + ? * interval '1 millisecond', ?, ?) ON CONFLICT (order_id) DO NOTHING
       RETURNING id, order_id, expires_at, created_at, updated_at
     )${
       lines
         ? `,
     held AS (
       INSERT INTO reservation_lines (reservation_id, product_id, quantity) SELECT r.id, l.product_id, l.quantity FROM r, unnest(?::uuid[], ?::int[]) AS l(product_id, quantity)
     )`
         : ""
     }${moves.text}
     SELECT id, expires_at, created_at, updated_at FROM r`,
    [
      uuidv7(),
      orderId,
      row.customerId,
      row.status,
      row.ttlMs,
      row.reason,
      currentTraceParent(),
      ...(lines ? [row.lines.map((l) => l.productId), row.lines.map((l) => l.quantity)] : []),
      ...moves.params,
    ],
  );
  return inserted && written(inserted);
}

/**
 * Sets a reservation's status (and release reason, when given), applying `move` with it;
 * returns the row's new updated_at.
 */
export async function updateReservation(em: EntityManager, id: string, status: ReservationStatus, reason: string | null, move?: StockMove): Promise<Date> {
  const moves = moveCtes(move);
  const [row] = await query<{ updated_at: Date }>(
    em,
    `WITH r AS (
       UPDATE reservations SET status = ?, release_reason = coalesce(?, release_reason), updated_at = now() WHERE id = ?
       RETURNING order_id, updated_at
     )${moves.text}
     SELECT updated_at FROM r`,
    [status, reason, id, ...moves.params],
  );
  if (!row) throw new Error(`reservation ${id} vanished while locked`);
  return new Date(row.updated_at);
}
