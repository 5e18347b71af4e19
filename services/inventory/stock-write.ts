import type { EntityManager } from "@mikro-orm/postgresql";
import { sql as query } from "../../lib/db/index.js";
import { uuidv7 } from "../../lib/ids.js";
import type { Line, StockChange } from "./domain/stock.js";

/**
 * The one SQL that moves stock: the product counters a move changes and the stock_movements rows
 * that log it, as CTEs of one statement, so the counters and the log never disagree. A
 * reservation change embeds them in its own statement (reservation-write.ts); replenish, adjust
 * and a new product's initial stock run them alone (`moveStock`). The caller has locked the
 * products (stock-lock.ts) and decided (domain/) that the move is allowed; the CHECK constraints
 * on the counters are the last line against a wrong decision.
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

/**
 * The CTEs that apply `move` for the CTE `r`, with their parameters. `r` returns order_id: the
 * order the movements are logged for, and, when it returns no row (a reservation insert that
 * lost on order_id), nothing is moved or logged.
 */
export function moveCtes(move: StockMove | undefined): { text: string; params: unknown[] } {
  if (!move || move.lines.length === 0) return { text: "", params: [] };
  const set = (["available", "reserved", "sold"] as const)
    .filter((column) => move.change[column])
    .map((column) => `${column} = p.${column} ${move.change[column] === 1 ? "+" : "-"} u.quantity`);
  const moved =
    set.length === 0
      ? ""
      : `
     moved AS (
       UPDATE products p SET ${set.join(", ")}, version = p.version + 1, updated_at = now() FROM u, r WHERE p.id = u.product_id
     ),`;
  return {
    text: `,
     u AS (SELECT * FROM unnest(?::uuid[], ?::int[], ?::uuid[]) AS u(product_id, quantity, movement_id)),${moved}
     logged AS (
       INSERT INTO stock_movements (id, product_id, order_id, type, quantity, reason) SELECT u.movement_id, u.product_id, r.order_id, ?, u.quantity, ? FROM u, r
     )`,
    params: [move.lines.map((l) => l.productId), move.lines.map((l) => l.quantity), move.lines.map(() => uuidv7()), move.type, move.note],
  };
}

/** Applies `move`, for no order, in one statement (replenish, adjust, initial stock). */
export async function moveStock(em: EntityManager, move: StockMove): Promise<void> {
  const moves = moveCtes(move);
  if (!moves.text) return;
  await query(em, `WITH r AS (SELECT NULL::uuid AS order_id)${moves.text} SELECT 1`, moves.params);
}
