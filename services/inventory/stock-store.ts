import type { EntityManager } from "@mikro-orm/postgresql";
import { isUuid, uuidv7 } from "../../lib/ids.js";
import { currentTraceParent } from "../../lib/telemetry/index.js";
import {
  decideReservation,
  type ReleaseReason as DomainReleaseReason,
  type ReservationInput,
  type ReservationOutcome,
  type ReservationState,
} from "./domain/reservation.js";
import { crossedLowStock, crossedZero, findShortages, type Line, normalizeLines, type Shortage, type StockLevel } from "./domain/stock.js";
import { sql as query } from "../../lib/db/index.js";
import { publishProductChanged } from "./events.js";

/**
 * Stock changes as SQL on the caller's transaction. Every change locks the product rows it
 * touches (in product-id order, so concurrent multi-line reservations cannot deadlock), writes
 * a stock_movements row, and keeps `initial + replenished + adjusted = available + reserved + sold`.
 * A product whose available stock runs out or comes back is announced (inventory.product_changed)
 * on the same transaction.
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

export interface LowStock {
  productId: string;
  available: number;
  threshold: number;
}

/** The reasons stock goes back: the domain's, and the sweeper's expiry. */
export type ReleaseReason = DomainReleaseReason | "EXPIRED";

type Row = Record<string, unknown>;

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

/**
 * Locks, sorted by id, every product named in `productIds` or held by a reservation of
 * `orderIds`. A consumer batch does this first (see `beforeBatch` in lib/events): its handlers
 * then only re-take locks it holds, so two batches side by side queue on their first common
 * product instead of each locking rows event by event into a deadlock. Ids that are not UUIDs
 * are left to the handlers, which reject them.
 */
export async function lockStockFirst(em: EntityManager, ids: { productIds?: readonly string[]; orderIds?: readonly string[] }): Promise<void> {
  const productIds = [...new Set((ids.productIds ?? []).filter(isUuid))];
  const orderIds = [...new Set((ids.orderIds ?? []).filter(isUuid))];
  if (productIds.length === 0 && orderIds.length === 0) return;
  await query(
    em,
    `SELECT id FROM products WHERE id IN (
       SELECT unnest(?::uuid[])
       UNION SELECT l.product_id FROM reservation_lines l JOIN reservations r ON r.id = l.reservation_id WHERE r.order_id = ANY(?::uuid[])
     ) ORDER BY id FOR UPDATE`,
    [productIds, orderIds],
  );
}

/**
 * Moves `quantity` per line between the counters, e.g. available -> reserved. Every change of
 * `available` goes through here, so this is where a product that sells out (available reaches
 * 0) or comes back (0 -> more) is announced: inventory.product_changed on the caller's
 * transaction, which order's catalog cache turns into a refusal of sold-out products. The
 * UPDATE returns the new counts, so the normal path costs no extra statement.
 */
async function moveStock(em: EntityManager, lines: Line[], change: { available?: 1 | -1; reserved?: 1 | -1; sold?: 1 | -1 }): Promise<void> {
  const set = (["available", "reserved", "sold"] as const)
    .filter((column) => change[column])
    .map((column) => `${column} = p.${column} ${change[column] === 1 ? "+" : "-"} l.quantity`);
  const rows = await query<{ id: string; available: number; quantity: number }>(
    em,
    `UPDATE products p SET ${set.join(", ")}, version = p.version + 1, updated_at = now()
     FROM unnest(?::uuid[], ?::int[]) AS l(product_id, quantity) WHERE p.id = l.product_id
     ${change.available ? "RETURNING p.id, p.available, l.quantity" : ""}`,
    [lines.map((l) => l.productId), lines.map((l) => l.quantity)],
  );
  const sign = change.available;
  if (!sign) return;
  for (const row of rows) {
    const after = Number(row.available);
    if (crossedZero(after - sign * Number(row.quantity), after)) await publishProductChanged(em, String(row.id));
  }
}

async function recordMovements(em: EntityManager, lines: Line[], type: string, orderId: string | null, reason: string, sign: 1 | -1 = 1): Promise<void> {
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
    `SELECT id, order_id, customer_id, status, expires_at, release_reason, created_at, updated_at FROM reservations WHERE order_id = ?${lock ? " FOR UPDATE" : ""}`,
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
    releaseReason: row.release_reason === null || row.release_reason === undefined ? null : String(row.release_reason),
  };
}

async function setStatus(em: EntityManager, reservation: ReservationRow, status: ReservationStatus, reason?: string): Promise<ReservationRow> {
  const [row] = await query<{ updated_at: string }>(
    em,
    "UPDATE reservations SET status = ?, release_reason = coalesce(?, release_reason), updated_at = now() WHERE id = ? RETURNING updated_at",
    [status, reason ?? null, reservation.id],
  );
  return { ...reservation, status, releaseReason: reason ?? reservation.releaseReason, updatedAt: new Date(row.updated_at) };
}

/** The reservation of an order, if any. */
export function getReservation(em: EntityManager, orderId: string): Promise<ReservationRow | undefined> {
  return loadReservation(em, orderId, false);
}

/** What the saga and the RPCs ask of an order's reservation; the lines come with the inputs that may need them. */
export type ReservationRequest =
  | { type: "reserve"; customerId: string; lines: readonly Line[]; ttlMs: number }
  | { type: "commit"; customerId: string; lines: readonly Line[] }
  | { type: "release"; reason: Extract<ReservationInput, { type: "release" }>["reason"] }
  | { type: "expire" };

/** What happened to the reservation, and so which event (if any) the caller publishes. */
export type ReservationResult =
  /** Stock reserved: inventory.reserved (and inventory.low_stock for `lowStock`). */
  | { kind: "reserved"; reservation: ReservationRow; lowStock: LowStock[] }
  /** Stock counted as sold. */
  | { kind: "committed"; reservation: ReservationRow }
  /** Stock back to available: inventory.released with `reason`. */
  | { kind: "released"; reservation: ReservationRow; lines: Line[]; reason: ReleaseReason }
  /** The stock is not there: inventory.insufficient. `reservation` is set when a commit could not take it. */
  | { kind: "insufficient"; shortages: Shortage[]; reservation?: ReservationRow }
  /** Nothing moved; the reservation now remembers the input (a tombstone, or a cancellation after an expiry). */
  | { kind: "recorded"; reservation: ReservationRow }
  /** Nothing to do (a duplicate, or made pointless by an earlier input). */
  | { kind: "ignored"; reservation?: ReservationRow; why: string };

function stateOf(reservation: ReservationRow | undefined): ReservationState {
  if (!reservation) return { status: "NONE" };
  if (reservation.status === "RELEASED") return { status: "RELEASED", reason: (reservation.releaseReason ?? "MANUAL") as DomainReleaseReason };
  return { status: reservation.status };
}

function domainInput(request: ReservationRequest): ReservationInput {
  return request.type === "release" ? { type: "release", reason: request.reason } : { type: request.type };
}

/** Inserts the order's reservation row; false when a concurrent transaction inserted one first. */
async function insertReservation(
  em: EntityManager,
  orderId: string,
  row: { customerId: string; status: ReservationStatus; reason: string | null; ttlMs: number; lines: readonly Line[] },
): Promise<boolean> {
  const id = uuidv7();
  const inserted = await query(
    em,
    `INSERT INTO reservations (id, order_id, customer_id, status, expires_at, release_reason, trace_parent)
     VALUES (?, ?, ?, ?, now() + ? * interval '1 millisecond', ?, ?) ON CONFLICT (order_id) DO NOTHING RETURNING id`,
    [id, orderId, row.customerId, row.status, row.ttlMs, row.reason, currentTraceParent()],
  );
  if (inserted.length === 0) return false;
  if (row.lines.length > 0) {
    await query(em, "INSERT INTO reservation_lines (reservation_id, product_id, quantity) SELECT ?, * FROM unnest(?::uuid[], ?::int[])", [
      id,
      row.lines.map((l) => l.productId),
      row.lines.map((l) => l.quantity),
    ]);
  }
  return true;
}

function lowStockOf(lines: readonly Line[], stock: ReadonlyMap<string, StockLevel>): LowStock[] {
  return lines.flatMap((line) => {
    const level = stock.get(line.productId)!;
    const after = level.available - line.quantity;
    return crossedLowStock(level.available, after, level.lowStockThreshold)
      ? [{ productId: line.productId, available: after, threshold: level.lowStockThreshold }]
      : [];
  });
}

/**
 * The one place where an order's reservation changes. Locks the reservation row, asks
 * `decideReservation` (domain/reservation.ts) what the request does in the reservation's state,
 * and applies that outcome: stock counters, movements and the reservation's status, all on the
 * caller's transaction. Reserve, commit, release and expiry arrive on separate consumers in any
 * order; because each decides here under the same row lock, the order they run in cannot make
 * a cancelled order's units count as sold.
 *
 * While the order has no reservation there is no row to lock: an outcome that creates one
 * inserts it with ON CONFLICT DO NOTHING, and when a concurrent transaction's row won, decides
 * again on that row (now locked).
 */
export async function applyToReservation(em: EntityManager, orderId: string, request: ReservationRequest): Promise<ReservationResult> {
  for (let round = 0; round < 2; round++) {
    const reservation = await loadReservation(em, orderId, true);
    const outcome = decideReservation(stateOf(reservation), domainInput(request));
    const result = await applyOutcome(em, orderId, request, reservation, outcome);
    if (result !== "lost-race") return result;
  }
  throw new Error(`the reservation of order ${orderId} changed concurrently; retry`);
}

async function applyOutcome(
  em: EntityManager,
  orderId: string,
  request: ReservationRequest,
  reservation: ReservationRow | undefined,
  outcome: ReservationOutcome,
): Promise<ReservationResult | "lost-race"> {
  const customerId = "customerId" in request ? request.customerId : "";
  switch (outcome.kind) {
    case "ignore":
      return { kind: "ignored", reservation, why: outcome.why };

    case "reserve": {
      if (request.type !== "reserve") throw new Error(`reserve outcome for a ${request.type} request`);
      const lines = normalizeLines(request.lines);
      const stock = await lockProducts(
        em,
        lines.map((l) => l.productId),
      );
      const shortages = findShortages(lines, stock);
      if (shortages.length > 0) return { kind: "insufficient", shortages };
      if (!(await insertReservation(em, orderId, { customerId, status: "ACTIVE", reason: null, ttlMs: request.ttlMs, lines }))) return "lost-race";
      await moveStock(em, lines, { available: -1, reserved: 1 });
      await recordMovements(em, lines, "RESERVE", orderId, "order reservation");
      return { kind: "reserved", reservation: (await loadReservation(em, orderId, false))!, lowStock: lowStockOf(lines, stock) };
    }

    case "commit-reserved": {
      const held = reservation!;
      await lockProducts(
        em,
        held.lines.map((l) => l.productId),
      );
      await moveStock(em, held.lines, { reserved: -1, sold: 1 });
      await recordMovements(em, held.lines, "COMMIT", orderId, "order confirmed");
      return { kind: "committed", reservation: await setStatus(em, held, "COMMITTED") };
    }

    case "take-sold": {
      // The reservation's own lines when it has them; an order confirmed before it was reserved brings its lines.
      const lines = reservation && reservation.lines.length > 0 ? reservation.lines : normalizeLines(request.type === "commit" ? request.lines : []);
      const stock = await lockProducts(
        em,
        lines.map((l) => l.productId),
      );
      const shortages = lines.length === 0 ? [] : findShortages(lines, stock);
      if (shortages.length > 0 || lines.length === 0) {
        // The order is paid but its stock is gone: inventory.insufficient cancels (and refunds) it.
        if (!reservation) {
          if (!(await insertReservation(em, orderId, { customerId, status: "RELEASED", reason: "UNFILLED", ttlMs: 0, lines: [] }))) return "lost-race";
          return { kind: "insufficient", shortages, reservation: (await loadReservation(em, orderId, false))! };
        }
        return { kind: "insufficient", shortages, reservation: await setStatus(em, reservation, "RELEASED", "UNFILLED") };
      }
      if (!reservation && !(await insertReservation(em, orderId, { customerId, status: "COMMITTED", reason: null, ttlMs: 0, lines }))) return "lost-race";
      await moveStock(em, lines, { available: -1, sold: 1 });
      const note = reservation ? `order confirmed after its reservation was ${reservation.status.toLowerCase()}` : "order confirmed before it was reserved";
      await recordMovements(em, lines, "COMMIT", orderId, note);
      const committed = reservation ? await setStatus(em, reservation, "COMMITTED") : (await loadReservation(em, orderId, false))!;
      return { kind: "committed", reservation: committed };
    }

    case "release-reserved":
    case "return-sold": {
      const held = reservation!;
      const reason: ReleaseReason = outcome.reason;
      await lockProducts(
        em,
        held.lines.map((l) => l.productId),
      );
      if (outcome.kind === "return-sold") await moveStock(em, held.lines, { available: 1, sold: -1 });
      else await moveStock(em, held.lines, { available: 1, reserved: -1 });
      const type = reason === "EXPIRED" ? "EXPIRE" : "RELEASE";
      const note = outcome.kind === "return-sold" ? `returned: ${reason.toLowerCase()}` : reason.toLowerCase();
      await recordMovements(em, held.lines, type, orderId, note);
      const updated = await setStatus(em, held, reason === "EXPIRED" ? "EXPIRED" : "RELEASED", reason);
      return { kind: "released", reservation: updated, lines: held.lines, reason };
    }

    case "record": {
      if (reservation) return { kind: "recorded", reservation: await setStatus(em, reservation, outcome.to, outcome.reason) };
      if (!(await insertReservation(em, orderId, { customerId, status: outcome.to, reason: outcome.reason, ttlMs: 0, lines: [] }))) return "lost-race";
      return { kind: "recorded", reservation: (await loadReservation(em, orderId, false))! };
    }
  }
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
