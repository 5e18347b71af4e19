import type { EntityManager } from "@mikro-orm/postgresql";
import { uuidv7 } from "../../lib/ids.js";
import { currentTraceParent } from "../../lib/telemetry/index.js";
import { type DeliveryStatus, decideTransition, onOrderCancelled } from "./domain/delivery-status.js";
import type { AddressData } from "./domain/address.js";
import { DeliveryLog, type DeliveryLogRow, type DeliveryRow } from "./entities.js";
import { CommitQueue, sql as execute } from "../../lib/db/index.js";

/**
 * Delivery changes on the caller's transaction, in plain SQL. Every change locks the delivery
 * row first (one delivery per order, so concurrent events and RPCs for an order serialise on
 * it) and appends a delivery_logs row for every status the delivery enters, in the same
 * statement as the change.
 */

const DELIVERY_COLUMNS = "id, order_id, customer_id, address, status, carrier, tracking_number, created_at, updated_at, trace_parent";

/** A deliveries row as node-postgres returns it (jsonb parsed, timestamps as Date). */
interface DeliveryRecord {
  id: string;
  order_id: string;
  customer_id: string;
  address: Partial<AddressData>;
  status: DeliveryStatus;
  carrier: string;
  tracking_number: string;
  created_at: Date;
  updated_at: Date;
  trace_parent: string | null;
}

function toDelivery(row: DeliveryRecord): DeliveryRow {
  return {
    id: row.id,
    orderId: row.order_id,
    customerId: row.customer_id,
    address: row.address,
    status: row.status,
    carrier: row.carrier,
    trackingNumber: row.tracking_number,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    traceParent: row.trace_parent,
  };
}

/**
 * The delivery matching `where` (a unique column); with `lock`, locked for this transaction.
 * The store's one SELECT of a deliveries row: every change locks the row first; only the
 * conflict path of `createDelivery`, which changes nothing, reads without a lock.
 */
async function readDelivery(em: EntityManager, where: "id" | "order_id", value: string, lock: boolean): Promise<DeliveryRow | undefined> {
  const [row] = await execute<DeliveryRecord>(em, `SELECT ${DELIVERY_COLUMNS} FROM deliveries WHERE ${where} = ?${lock ? " FOR UPDATE" : ""}`, [value]);
  return row && toDelivery(row);
}

/**
 * Runs `write` (an INSERT or UPDATE of one deliveries row, without RETURNING) and, when
 * `logNotes` is given, appends the status the row then has to delivery_logs, in one statement;
 * returns the row as written, or undefined when `write` wrote none (then nothing is logged).
 */
async function writeAndLog(em: EntityManager, write: string, params: readonly unknown[], logNotes: string | undefined): Promise<DeliveryRow | undefined> {
  const [row] = await execute<DeliveryRecord>(
    em,
    `WITH d AS (
       ${write} RETURNING ${DELIVERY_COLUMNS}
     ), log AS (
       INSERT INTO delivery_logs (id, delivery_id, status, notes) SELECT ?, id, status, ? FROM d WHERE ?::boolean
     )
     SELECT ${DELIVERY_COLUMNS} FROM d`,
    [...params, uuidv7(), logNotes ?? "", logNotes !== undefined],
  );
  return row && toDelivery(row);
}

/**
 * Inserts a delivery and its first log entry, unless the order already has a delivery; returns
 * it, or undefined on conflict.
 */
async function insertDelivery(
  em: EntityManager,
  order: { orderId: string; customerId: string },
  address: Partial<AddressData>,
  status: DeliveryStatus,
  notes: string,
): Promise<DeliveryRow | undefined> {
  return writeAndLog(
    em,
    `INSERT INTO deliveries (id, order_id, customer_id, address, status, trace_parent) VALUES (?, ?, ?, ?::jsonb, ?, ?)
       ON CONFLICT (order_id) DO NOTHING`,
    [uuidv7(), order.orderId, order.customerId, JSON.stringify(address), status, currentTraceParent()],
    notes,
  );
}

/**
 * Writes a locked delivery's new status, carrier and tracking number, and logs the status when
 * it changed; returns the delivery as written.
 */
async function writeDelivery(em: EntityManager, delivery: DeliveryRow, change: { status: DeliveryStatus; logNotes?: string }): Promise<DeliveryRow> {
  const written = await writeAndLog(
    em,
    "UPDATE deliveries SET status = ?, carrier = ?, tracking_number = ?, updated_at = now() WHERE id = ?",
    [change.status, delivery.carrier, delivery.trackingNumber, delivery.id],
    change.logNotes,
  );
  if (!written) throw new Error(`delivery ${delivery.id} vanished while locked`);
  return written;
}

/** A delivery queued by a transaction that defers its inserts, written just before it commits. */
export type QueuedDelivery = Pick<DeliveryRow, "id" | "orderId" | "customerId">;

interface PendingDelivery extends QueuedDelivery {
  address: AddressData;
  notes: string;
  traceParent: string | null;
}

/** The deliveries of transactions that called `deferDeliveries`, inserted just before they commit. */
const deferred = new CommitQueue<PendingDelivery[]>(() => [], insertQueued);

/**
 * Queues the deliveries this transaction creates until just before it commits, where they are
 * inserted, with their first log entries, in one statement (a consumer batch of order.confirmed
 * costs one insert, not one per order). If the order of one already has a delivery by then (the
 * RPC or a cancellation's tombstone won the race), the commit fails and the transaction rolls
 * back: a consumer batch's events are then applied one at a time, and each of those inserts at
 * once and finds the delivery that exists.
 */
export function deferDeliveries(em: EntityManager): void {
  deferred.of(em);
}

async function insertQueued(em: EntityManager, pending: readonly PendingDelivery[]): Promise<void> {
  const rows = await execute<{ order_id: string }>(
    em,
    `WITH d AS (
       INSERT INTO deliveries (id, order_id, customer_id, address, status, trace_parent)
       SELECT i.id, i.order_id, i.customer_id, i.address::jsonb, 'PENDING', i.trace_parent
       FROM unnest(?::uuid[], ?::uuid[], ?::text[], ?::text[], ?::text[]) AS i(id, order_id, customer_id, address, trace_parent)
       ON CONFLICT (order_id) DO NOTHING
       RETURNING id, order_id, status
     ), log AS (
       INSERT INTO delivery_logs (id, delivery_id, status, notes)
       SELECT l.id, d.id, d.status, l.notes FROM d JOIN unnest(?::uuid[], ?::uuid[], ?::text[]) AS l(id, delivery_id, notes) ON l.delivery_id = d.id
     )
     SELECT order_id FROM d`,
    [
      pending.map((d) => d.id),
      pending.map((d) => d.orderId),
      pending.map((d) => d.customerId),
      pending.map((d) => JSON.stringify(d.address)),
      pending.map((d) => d.traceParent),
      pending.map(() => uuidv7()),
      pending.map((d) => d.id),
      pending.map((d) => d.notes),
    ],
  );
  if (rows.length === pending.length) return;
  const inserted = new Set(rows.map((row) => row.order_id.toLowerCase()));
  const lost = pending.find((d) => !inserted.has(d.orderId.toLowerCase()));
  throw new Error(`order ${lost?.orderId} already has a delivery; its events are applied again one at a time`);
}

export type CreateResult =
  | { kind: "created"; delivery: DeliveryRow }
  /** In a transaction that defers its inserts (`deferDeliveries`): written at its commit. */
  | { kind: "queued"; delivery: QueuedDelivery }
  | { kind: "existing"; delivery: DeliveryRow };

/**
 * Creates the PENDING delivery of an order. Idempotent per order: when the order already has
 * a delivery (a redelivered event, the RPC racing the event, or the CANCELLED tombstone of an
 * order cancelled before its confirmation arrived) that one is returned as `existing`.
 */
export async function createDelivery(
  em: EntityManager,
  order: { orderId: string; customerId: string; address: AddressData },
  notes = "delivery created",
): Promise<CreateResult> {
  const queue = deferred.peek(em);
  if (queue) {
    const delivery = { id: uuidv7(), orderId: order.orderId, customerId: order.customerId };
    queue.push({ ...delivery, address: order.address, notes, traceParent: currentTraceParent() });
    return { kind: "queued", delivery };
  }
  const created = await insertDelivery(em, order, order.address, "PENDING", notes);
  if (created) return { kind: "created", delivery: created };
  const existing = await readDelivery(em, "order_id", order.orderId, false);
  if (!existing) throw new Error(`the delivery of order ${order.orderId} conflicted on insert but cannot be read`);
  return { kind: "existing", delivery: existing };
}

export type CancelResult =
  | { kind: "cancelled"; delivery: DeliveryRow; from: DeliveryStatus }
  /** The order had no delivery: a CANCELLED one now stands in, so a late order.confirmed creates none. */
  | { kind: "tombstone" }
  | { kind: "ignored"; delivery: DeliveryRow; why: string; warn: boolean };

/** Applies order.cancelled to the order's delivery (see `onOrderCancelled`). */
export async function cancelForOrder(em: EntityManager, order: { orderId: string; customerId: string }, notes: string): Promise<CancelResult> {
  // Two rounds at most: when a concurrent create commits between our read and our tombstone,
  // the tombstone loses on order_id and the second round cancels the delivery that won.
  for (let round = 0; round < 2; round++) {
    const delivery = await readDelivery(em, "order_id", order.orderId, true);
    if (!delivery) {
      const tombstone = await insertDelivery(em, order, {}, "CANCELLED", `${notes} (before the delivery was created)`);
      if (tombstone) return { kind: "tombstone" };
      continue;
    }
    const outcome = onOrderCancelled(delivery.status);
    if (outcome.kind === "ignore") return { kind: "ignored", delivery, why: outcome.why, warn: outcome.warn };
    return { kind: "cancelled", delivery: await writeDelivery(em, delivery, { status: "CANCELLED", logNotes: notes }), from: outcome.from };
  }
  throw new Error(`the delivery of order ${order.orderId} changed concurrently; retry`);
}

export type UpdateResult =
  | { kind: "missing" }
  | { kind: "refused"; why: string }
  | { kind: "unchanged"; delivery: DeliveryRow }
  | { kind: "changed"; delivery: DeliveryRow; from: DeliveryStatus };

/**
 * Moves a delivery to `to` (see `decideTransition`), records carrier and tracking number when
 * given, and logs the new status. Setting the current status again only updates carrier and
 * tracking number.
 */
export async function updateStatus(
  em: EntityManager,
  deliveryId: string,
  to: DeliveryStatus,
  change: { notes: string; carrier?: string; trackingNumber?: string },
): Promise<UpdateResult> {
  const delivery = await readDelivery(em, "id", deliveryId, true);
  if (!delivery) return { kind: "missing" };
  const outcome = decideTransition(delivery.status, to);
  if (outcome.kind === "refused") return outcome;
  const wanted = { ...delivery, carrier: change.carrier ?? delivery.carrier, trackingNumber: change.trackingNumber ?? delivery.trackingNumber };
  if (outcome.kind === "unchanged") {
    // Nothing to write unless carrier or tracking number differ; no status entered, so no log entry.
    if (wanted.carrier === delivery.carrier && wanted.trackingNumber === delivery.trackingNumber) return { kind: "unchanged", delivery };
    return { kind: "unchanged", delivery: await writeDelivery(em, wanted, { status: delivery.status }) };
  }
  return { kind: "changed", delivery: await writeDelivery(em, wanted, { status: to, logNotes: change.notes }), from: outcome.from };
}

/** The status histories of `deliveryIds`, oldest entry first. */
export async function logsOf(em: EntityManager, deliveryIds: string[]): Promise<Map<string, DeliveryLogRow[]>> {
  const logs = new Map<string, DeliveryLogRow[]>(deliveryIds.map((id) => [id, []]));
  if (deliveryIds.length === 0) return logs;
  const rows = await em.find(DeliveryLog, { deliveryId: { $in: deliveryIds } }, { orderBy: { at: "asc", id: "asc" } });
  for (const row of rows) logs.get(row.deliveryId)?.push(row);
  return logs;
}
