import type { EntityManager } from "@mikro-orm/postgresql";
import { uuidv7 } from "../../lib/ids.js";
import { currentTraceParent } from "../../lib/telemetry/index.js";
import { crossedLowStock, findShortages, type Line, normalizeLines, type Shortage, type StockLevel } from "./domain/stock.js";

/**
 * Stock changes as SQL on the caller's transaction. Every change locks the product rows it
 * touches (in product-id order, so concurrent multi-line reservations cannot deadlock), writes
 * a stock_movements row, and keeps `initial + replenished + adjusted = available + reserved + sold`.
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
}

export interface LowStock {
  productId: string;
  available: number;
  threshold: number;
}

export type ReserveResult =
  | { kind: "reserved"; reservation: ReservationRow; lowStock: LowStock[] }
  /** The order already has a reservation (redelivery, or released before it arrived). */
  | { kind: "existing"; reservation: ReservationRow }
  | { kind: "insufficient"; shortages: Shortage[] };

type Row = Record<string, unknown>;

async function query<T = Row>(em: EntityManager, sql: string, params: unknown[] = []): Promise<T[]> {
  // knex expands JS arrays into value lists; unnest() and ANY() need one array literal instead.
  const bound = params.map((value) => (Array.isArray(value) ? arrayLiteral(value) : value));
  return em.getConnection().execute(sql, bound, "all", em.getTransactionContext()) as Promise<T[]>;
}

/** A PostgreSQL array literal, every element quoted and escaped. */
function arrayLiteral(values: readonly unknown[]): string {
  return `{${values.map((v) => `"${String(v).replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`).join(",")}}`;
}

function toLevel(row: Row): StockLevel {
  return {
    productId: String(row.id),
    status: row.status as StockLevel["status"],
    available: Number(row.available),
    reserved: Number(row.reserved),
    sold: Number(row.sold),
    lowStockThreshold: Number(row.low_stock_threshold),
  };
}

async function lockProducts(em: EntityManager, productIds: string[]): Promise<Map<string, StockLevel>> {
  const rows = await query(
    em,
    "SELECT id, status, available, reserved, sold, low_stock_threshold FROM products WHERE id = ANY(?::uuid[]) ORDER BY id FOR UPDATE",
    [productIds],
  );
  return new Map(rows.map((row) => [String(row.id), toLevel(row)]));
}

/** Moves `quantity` per line between the counters, e.g. available -> reserved. */
async function moveStock(
  em: EntityManager,
  lines: Line[],
  change: { available?: 1 | -1; reserved?: 1 | -1; sold?: 1 | -1 },
): Promise<void> {
  const set = (["available", "reserved", "sold"] as const)
    .filter((column) => change[column])
    .map((column) => `${column} = p.${column} ${change[column] === 1 ? "+" : "-"} l.quantity`);
  await query(
    em,
    `UPDATE products p SET ${set.join(", ")}, version = p.version + 1, updated_at = now()
     FROM unnest(?::uuid[], ?::int[]) AS l(product_id, quantity) WHERE p.id = l.product_id`,
    [lines.map((l) => l.productId), lines.map((l) => l.quantity)],
  );
}

async function recordMovements(
  em: EntityManager,
  lines: Line[],
  type: string,
  orderId: string | null,
  reason: string,
  sign: 1 | -1 = 1,
): Promise<void> {
  await query(
    em,
    `INSERT INTO stock_movements (id, product_id, order_id, type, quantity, reason)
     SELECT id, product_id, ?::uuid, ?, quantity, ? FROM unnest(?::uuid[], ?::uuid[], ?::int[]) AS m(id, product_id, quantity)`,
    [orderId, type, reason, lines.map(() => uuidv7()), lines.map((l) => l.productId), lines.map((l) => sign * l.quantity)],
  );
}

async function loadReservation(em: EntityManager, orderId: string, lock: boolean): Promise<ReservationRow | undefined> {
  const [row] = await query(
    em,
    `SELECT id, order_id, customer_id, status, expires_at, created_at, updated_at FROM reservations WHERE order_id = ?${lock ? " FOR UPDATE" : ""}`,
    [orderId],
  );
  if (!row) return undefined;
  const lines = await query(em, "SELECT product_id, quantity FROM reservation_lines WHERE reservation_id = ? ORDER BY product_id", [row.id]);
  return {
    id: String(row.id),
    orderId: String(row.order_id),
    customerId: String(row.customer_id),
    status: row.status as ReservationStatus,
    expiresAt: new Date(row.expires_at as string),
    createdAt: new Date(row.created_at as string),
    updatedAt: new Date(row.updated_at as string),
    lines: lines.map((l) => ({ productId: String(l.product_id), quantity: Number(l.quantity) })),
  };
}

async function setStatus(em: EntityManager, reservation: ReservationRow, status: ReservationStatus, reason?: string): Promise<ReservationRow> {
  const [row] = await query<{ updated_at: string }>(
    em,
    "UPDATE reservations SET status = ?, release_reason = coalesce(?, release_reason), updated_at = now() WHERE id = ? RETURNING updated_at",
    [status, reason ?? null, reservation.id],
  );
  return { ...reservation, status, updatedAt: new Date(row.updated_at) };
}

/** The reservation of an order, if any. */
export function getReservation(em: EntityManager, orderId: string): Promise<ReservationRow | undefined> {
  return loadReservation(em, orderId, false);
}

/** Reserves every line for `orderId`, or none of them. Idempotent per order. */
export async function reserve(
  em: EntityManager,
  order: { orderId: string; customerId: string },
  requested: readonly Line[],
  ttlMs: number,
): Promise<ReserveResult> {
  const { orderId, customerId } = order;
  const existing = await loadReservation(em, orderId, true);
  if (existing) return { kind: "existing", reservation: existing };
  const lines = normalizeLines(requested);
  const stock = await lockProducts(
    em,
    lines.map((l) => l.productId),
  );
  const shortages = findShortages(lines, stock);
  if (shortages.length > 0) return { kind: "insufficient", shortages };

  await moveStock(em, lines, { available: -1, reserved: 1 });
  await recordMovements(em, lines, "RESERVE", orderId, "order reservation");
  const id = uuidv7();
  // A concurrent reserve for the same order (direct RPC racing the event) loses on the unique
  // order_id and rolls back with its transaction.
  await query(
    em,
    "INSERT INTO reservations (id, order_id, customer_id, status, expires_at, trace_parent) VALUES (?, ?, ?, 'ACTIVE', now() + ? * interval '1 millisecond', ?)",
    [id, orderId, customerId, ttlMs, currentTraceParent()],
  );
  await query(em, "INSERT INTO reservation_lines (reservation_id, product_id, quantity) SELECT ?, * FROM unnest(?::uuid[], ?::int[])", [
    id,
    lines.map((l) => l.productId),
    lines.map((l) => l.quantity),
  ]);
  const lowStock = lines.flatMap((line) => {
    const level = stock.get(line.productId)!;
    const after = level.available - line.quantity;
    return crossedLowStock(level.available, after, level.lowStockThreshold)
      ? [{ productId: line.productId, available: after, threshold: level.lowStockThreshold }]
      : [];
  });
  const reservation = (await loadReservation(em, orderId, false))!;
  return { kind: "reserved", reservation, lowStock };
}

export type ReleaseReason = "CANCELLED" | "PAYMENT_FAILED" | "REJECTED" | "EXPIRED" | "MANUAL";

export type ReleaseResult =
  | { kind: "released"; reservation: ReservationRow; lines: Line[] }
  /** Nothing held: already released, or never reserved (a tombstone now blocks a late reserve). */
  | { kind: "nothing"; reservation?: ReservationRow };

/**
 * Returns an order's stock. ACTIVE reservations go back to available; with `returnSold`
 * (cancellation after payment) COMMITTED ones too. When the order has no reservation yet, a
 * RELEASED tombstone is written so that an `order.created` arriving after the cancellation
 * does not reserve stock for a dead order.
 */
export async function release(
  em: EntityManager,
  orderId: string,
  reason: ReleaseReason,
  options: { returnSold?: boolean } = {},
): Promise<ReleaseResult> {
  const reservation = await loadReservation(em, orderId, true);
  if (!reservation) {
    await query(em, "INSERT INTO reservations (id, order_id, status, expires_at, release_reason) VALUES (?, ?, 'RELEASED', now(), ?) ON CONFLICT (order_id) DO NOTHING", [
      uuidv7(),
      orderId,
      reason,
    ]);
    return { kind: "nothing" };
  }
  const held = reservation.status === "ACTIVE" || (reservation.status === "COMMITTED" && options.returnSold);
  if (!held || reservation.lines.length === 0) return { kind: "nothing", reservation };
  await lockProducts(
    em,
    reservation.lines.map((l) => l.productId),
  );
  if (reservation.status === "ACTIVE") {
    await moveStock(em, reservation.lines, { available: 1, reserved: -1 });
  } else {
    await moveStock(em, reservation.lines, { available: 1, sold: -1 });
  }
  const type = reason === "EXPIRED" ? "EXPIRE" : "RELEASE";
  const note = reservation.status === "COMMITTED" ? `returned: ${reason.toLowerCase()}` : reason.toLowerCase();
  await recordMovements(em, reservation.lines, type, orderId, note);
  const updated = await setStatus(em, reservation, reason === "EXPIRED" ? "EXPIRED" : "RELEASED", reason);
  return { kind: "released", reservation: updated, lines: reservation.lines };
}

export type CommitResult =
  | { kind: "committed"; reservation: ReservationRow }
  | { kind: "already"; reservation: ReservationRow }
  /** The reservation expired before payment and its stock is gone now. */
  | { kind: "insufficient"; reservation: ReservationRow; shortages: Shortage[] }
  | { kind: "missing" };

/**
 * Turns an order's reservation into sold stock. A reservation that expired while payment was
 * in flight is re-taken from available stock when it is still there.
 */
export async function commit(em: EntityManager, orderId: string): Promise<CommitResult> {
  const reservation = await loadReservation(em, orderId, true);
  if (!reservation) return { kind: "missing" };
  if (reservation.status === "COMMITTED") return { kind: "already", reservation };
  const lines = reservation.lines;
  if (reservation.status === "ACTIVE") {
    await lockProducts(
      em,
      lines.map((l) => l.productId),
    );
    await moveStock(em, lines, { reserved: -1, sold: 1 });
    await recordMovements(em, lines, "COMMIT", orderId, "order confirmed");
    return { kind: "committed", reservation: await setStatus(em, reservation, "COMMITTED") };
  }
  const stock = await lockProducts(
    em,
    lines.map((l) => l.productId),
  );
  const shortages = findShortages(lines, stock);
  if (shortages.length > 0 || lines.length === 0) return { kind: "insufficient", reservation, shortages };
  await moveStock(em, lines, { available: -1, sold: 1 });
  await recordMovements(em, lines, "COMMIT", orderId, "order confirmed after its reservation expired");
  return { kind: "committed", reservation: await setStatus(em, reservation, "COMMITTED") };
}

/** Order ids of ACTIVE reservations past their expiry, locked for this transaction. */
export async function claimExpired(em: EntityManager, limit: number): Promise<{ orderId: string; traceParent: string | null }[]> {
  const rows = await query(
    em,
    "SELECT order_id, trace_parent FROM reservations WHERE status = 'ACTIVE' AND expires_at < now() ORDER BY expires_at LIMIT ? FOR UPDATE SKIP LOCKED",
    [limit],
  );
  return rows.map((r) => ({ orderId: String(r.order_id), traceParent: r.trace_parent == null ? null : String(r.trace_parent) }));
}

/** Adds `quantity` (> 0) to available stock. */
export async function replenish(em: EntityManager, productId: string, quantity: number, reason: string): Promise<boolean> {
  const stock = await lockProducts(em, [productId]);
  if (!stock.has(productId)) return false;
  await moveStock(em, [{ productId, quantity }], { available: 1 });
  await recordMovements(em, [{ productId, quantity }], "REPLENISH", null, reason || "replenished");
  return true;
}

export type AdjustResult = { kind: "adjusted" } | { kind: "missing" } | { kind: "negative"; available: number };

/** Corrects available stock by `delta` (a stock count, damage, loss); never below zero. */
export async function adjust(em: EntityManager, productId: string, delta: number, reason: string): Promise<AdjustResult> {
  const stock = await lockProducts(em, [productId]);
  const level = stock.get(productId);
  if (!level) return { kind: "missing" };
  if (level.available + delta < 0) return { kind: "negative", available: level.available };
  const line = { productId, quantity: Math.abs(delta) };
  await moveStock(em, [line], { available: delta >= 0 ? 1 : -1 });
  await recordMovements(em, [line], "ADJUST", null, reason, delta >= 0 ? 1 : -1);
  return { kind: "adjusted" };
}

/** Records the stock a product was created with, so the movement log sums to its counters. */
export async function recordInitialStock(em: EntityManager, productId: string, quantity: number): Promise<void> {
  await recordMovements(em, [{ productId, quantity }], "REPLENISH", null, "initial stock");
}
