import type { EntityManager } from "@mikro-orm/postgresql";
import {
  decideReservation,
  type ReleaseReason as DomainReleaseReason,
  type ReservationInput,
  type ReservationOutcome,
  type ReservationState,
} from "./domain/reservation.js";
import { crossedLowStock, crossedZero, findShortages, type Line, moveLevel, normalizeLines, type Shortage } from "./domain/stock.js";
import { sql as query } from "../../lib/db/index.js";
import { publishProductChanged } from "./events.js";
import { forgetReservation, lockReservationsAndStock, lockStock, type LockedState, type ReservationRow } from "./stock-lock.js";
import { insertReservation, moveStock, type StockMove, updateReservation, type WrittenReservation } from "./stock-write.js";

/**
 * Stock changes on the caller's transaction. Every change locks the product rows it touches
 * (stock-lock.ts, in product-id order, so concurrent multi-line reservations cannot deadlock),
 * writes a stock_movements row with every move, and keeps
 * `initial + replenished + adjusted = available + reserved + sold`. A product whose available
 * stock runs out or comes back is announced (inventory.product_changed) on the same transaction.
 * Every write goes through stock-write.ts, which makes it at once or, in a consumer batch, with
 * the batch's others at its commit.
 */

export type { ReservationRow } from "./stock-lock.js";

export interface LowStock {
  productId: string;
  available: number;
  threshold: number;
}

/** The reasons stock goes back: the domain's, and the sweeper's expiry. */
export type ReleaseReason = DomainReleaseReason | "EXPIRED";

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

/** Products whose available stock crosses the low-stock threshold when `lines` are taken from it. */
function lowStockOf(lines: readonly Line[], stock: LockedState["stock"]): LowStock[] {
  return lines.flatMap((line) => {
    const level = stock.get(line.productId)!;
    const after = level.available - line.quantity;
    return crossedLowStock(level.available, after, level.lowStockThreshold)
      ? [{ productId: line.productId, available: after, threshold: level.lowStockThreshold }]
      : [];
  });
}

/** Makes sure the transaction holds the products of `lines` (no statement when it does). */
async function lockLines(em: EntityManager, lines: readonly Line[]): Promise<LockedState> {
  return lockReservationsAndStock(em, { productIds: lines.map((l) => l.productId) });
}

/**
 * Brings the locked levels up to date with a move just written, and announces every product
 * whose available stock ran out or came back (inventory.product_changed, on this transaction).
 */
async function afterMove(em: EntityManager, locked: LockedState, move: StockMove): Promise<void> {
  for (const line of move.lines) {
    const before = locked.stock.get(line.productId);
    if (!before) throw new Error(`product ${line.productId} moved without being locked first`);
    const after = moveLevel(before, line.quantity, move.change);
    locked.stock.set(line.productId, after);
    if (crossedZero(before.available, after.available)) await publishProductChanged(em, line.productId);
  }
}

/**
 * The one place where an order's reservation changes. Locks the reservation row and the stock
 * it and the request touch (one statement, or none when a consumer batch's `beforeBatch`
 * already locked them: see stock-lock.ts), asks `decideReservation`
 * (domain/reservation.ts) what the request does in the reservation's state, and applies that
 * outcome (stock-write.ts): reservation row, lines, stock counters and movements, in one
 * statement on the caller's transaction, or with the rest of a consumer batch at its commit.
 * Reserve, commit, release and expiry arrive on separate consumers in any order; because each
 * decides here under the same row lock, the order they run in cannot make a cancelled order's
 * units count as sold.
 *
 * While the order has no reservation there is no row to lock: an outcome that creates one
 * inserts it with ON CONFLICT DO NOTHING, and when a concurrent transaction's row won, decides
 * again on that row (now read and locked). In a batch the insert waits for the commit, so a
 * lost one fails the batch, whose events are then applied one at a time and decide so.
 */
export async function applyToReservation(em: EntityManager, orderId: string, request: ReservationRequest): Promise<ReservationResult> {
  const productIds = "lines" in request ? request.lines.map((l) => l.productId) : [];
  for (let round = 0; round < 2; round++) {
    const locked = await lockReservationsAndStock(em, { orderIds: [orderId], productIds });
    const reservation = locked.reservations.get(orderId) ?? undefined;
    const outcome = decideReservation(stateOf(reservation), domainInput(request));
    const result = await applyOutcome(em, locked, orderId, request, reservation, outcome);
    // A refusal for an order without a reservation may rest on a read made before this
    // statement waited for the stock locks, while a concurrent commit wrote the order's
    // reservation: read it again before refusing stock to what may be a paid order.
    const readBeforeWaiting = round === 0 && outcome.kind === "reserve" && result !== "lost-race" && result.kind === "insufficient";
    if (result !== "lost-race" && !readBeforeWaiting) return result;
    forgetReservation(em, orderId);
  }
  throw new Error(`the reservation of order ${orderId} changed concurrently; retry`);
}

async function applyOutcome(
  em: EntityManager,
  locked: LockedState,
  orderId: string,
  request: ReservationRequest,
  reservation: ReservationRow | undefined,
  outcome: ReservationOutcome,
): Promise<ReservationResult | "lost-race"> {
  const customerId = "customerId" in request ? request.customerId : "";
  const now = locked.now;
  if (!now) throw new Error("a reservation changes only after the lock statement read the transaction's time");
  // What this transaction wrote is what the next event of the batch decides on.
  const remember = (row: ReservationRow): ReservationRow => {
    locked.reservations.set(orderId, row);
    return row;
  };
  const inserted = (row: WrittenReservation, fields: Pick<ReservationRow, "status" | "lines" | "releaseReason">): ReservationRow =>
    remember({ ...row, orderId, customerId, ...fields });

  switch (outcome.kind) {
    case "ignore":
      return { kind: "ignored", reservation, why: outcome.why };

    case "reserve": {
      if (request.type !== "reserve") throw new Error(`reserve outcome for a ${request.type} request`);
      const lines = normalizeLines(request.lines);
      const shortages = findShortages(lines, locked.stock);
      if (shortages.length > 0) return { kind: "insufficient", shortages };
      const move: StockMove = { lines, change: { available: -1, reserved: 1 }, type: "RESERVE", note: "order reservation" };
      const row = await insertReservation(em, now, orderId, { customerId, status: "ACTIVE", reason: null, ttlMs: request.ttlMs, lines }, move);
      if (!row) return "lost-race";
      const lowStock = lowStockOf(lines, locked.stock);
      await afterMove(em, locked, move);
      return { kind: "reserved", reservation: inserted(row, { status: "ACTIVE", lines, releaseReason: null }), lowStock };
    }

    case "commit-reserved": {
      const held = reservation!;
      const move: StockMove = { lines: held.lines, change: { reserved: -1, sold: 1 }, type: "COMMIT", note: "order confirmed" };
      await lockLines(em, held.lines);
      const updatedAt = await updateReservation(em, now, held, "COMMITTED", null, move);
      await afterMove(em, locked, move);
      return { kind: "committed", reservation: remember({ ...held, status: "COMMITTED", updatedAt }) };
    }

    case "take-sold": {
      // The reservation's own lines when it has them; an order confirmed before it was reserved brings its lines.
      const lines = reservation && reservation.lines.length > 0 ? reservation.lines : normalizeLines(request.type === "commit" ? request.lines : []);
      await lockLines(em, lines);
      const shortages = lines.length === 0 ? [] : findShortages(lines, locked.stock);
      if (shortages.length > 0 || lines.length === 0) {
        // The order is paid but its stock is gone: inventory.insufficient cancels (and refunds) it.
        if (!reservation) {
          const row = await insertReservation(em, now, orderId, { customerId, status: "RELEASED", reason: "UNFILLED", ttlMs: 0, lines: [] });
          if (!row) return "lost-race";
          return { kind: "insufficient", shortages, reservation: inserted(row, { status: "RELEASED", lines: [], releaseReason: "UNFILLED" }) };
        }
        const updatedAt = await updateReservation(em, now, reservation, "RELEASED", "UNFILLED");
        return { kind: "insufficient", shortages, reservation: remember({ ...reservation, status: "RELEASED", releaseReason: "UNFILLED", updatedAt }) };
      }
      const note = reservation ? `order confirmed after its reservation was ${reservation.status.toLowerCase()}` : "order confirmed before it was reserved";
      const move: StockMove = { lines, change: { available: -1, sold: 1 }, type: "COMMIT", note };
      if (!reservation) {
        const row = await insertReservation(em, now, orderId, { customerId, status: "COMMITTED", reason: null, ttlMs: 0, lines }, move);
        if (!row) return "lost-race";
        await afterMove(em, locked, move);
        return { kind: "committed", reservation: inserted(row, { status: "COMMITTED", lines, releaseReason: null }) };
      }
      const updatedAt = await updateReservation(em, now, reservation, "COMMITTED", null, move);
      await afterMove(em, locked, move);
      return { kind: "committed", reservation: remember({ ...reservation, status: "COMMITTED", updatedAt }) };
    }

    case "release-reserved":
    case "return-sold": {
      const held = reservation!;
      const reason: ReleaseReason = outcome.reason;
      const move: StockMove = {
        lines: held.lines,
        change: outcome.kind === "return-sold" ? { available: 1, sold: -1 } : { available: 1, reserved: -1 },
        type: reason === "EXPIRED" ? "EXPIRE" : "RELEASE",
        note: outcome.kind === "return-sold" ? `returned: ${reason.toLowerCase()}` : reason.toLowerCase(),
      };
      const status = outcome.kind === "release-reserved" ? outcome.to : "RELEASED";
      await lockLines(em, held.lines);
      const updatedAt = await updateReservation(em, now, held, status, reason, move);
      await afterMove(em, locked, move);
      return { kind: "released", reservation: remember({ ...held, status, releaseReason: reason, updatedAt }), lines: held.lines, reason };
    }

    case "record": {
      if (reservation) {
        const updatedAt = await updateReservation(em, now, reservation, outcome.to, outcome.reason);
        return { kind: "recorded", reservation: remember({ ...reservation, status: outcome.to, releaseReason: outcome.reason, updatedAt }) };
      }
      const row = await insertReservation(em, now, orderId, { customerId, status: outcome.to, reason: outcome.reason, ttlMs: 0, lines: [] });
      if (!row) return "lost-race";
      return { kind: "recorded", reservation: inserted(row, { status: outcome.to, lines: [], releaseReason: outcome.reason }) };
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
  const locked = await lockStock(em, [productId]);
  if (!locked.stock.get(productId)) return false;
  await moveAndAnnounce(em, locked, { lines: [{ productId, quantity }], change: { available: 1 }, type: "REPLENISH", note: reason || "replenished" });
  return true;
}

export type AdjustResult = { kind: "adjusted" } | { kind: "missing" } | { kind: "negative"; available: number };

/** Corrects available stock by `delta` (a stock count, damage, loss); never below zero. */
export async function adjust(em: EntityManager, productId: string, delta: number, reason: string): Promise<AdjustResult> {
  const locked = await lockStock(em, [productId]);
  const level = locked.stock.get(productId);
  if (!level) return { kind: "missing" };
  if (level.available + delta < 0) return { kind: "negative", available: level.available };
  // The signed delta as the quantity: added to available, and logged as the correction it is.
  await moveAndAnnounce(em, locked, { lines: [{ productId, quantity: delta }], change: { available: 1 }, type: "ADJUST", note: reason });
  return { kind: "adjusted" };
}

/** Records the stock a product was created with, so the movement log sums to its counters. */
export async function recordInitialStock(em: EntityManager, productId: string, quantity: number): Promise<void> {
  // The counters already hold it (the product was inserted with them): log only.
  await moveStock(em, { lines: [{ productId, quantity }], change: {}, type: "REPLENISH", note: "initial stock" });
}

/** A move of locked stock on its own (no reservation): written, then announced as `afterMove` says. */
async function moveAndAnnounce(em: EntityManager, locked: LockedState, move: StockMove): Promise<void> {
  await moveStock(em, move);
  await afterMove(em, locked, move);
}
