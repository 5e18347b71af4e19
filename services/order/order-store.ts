import type { EntityManager, Knex } from "@mikro-orm/postgresql";
import type { OrderStatus } from "./domain/order-status.js";
import { orderUpdates, type StatusChange, storedReason } from "./domain/status-changes.js";
import type { PricedOrder } from "./domain/pricing.js";
import { IdempotencyKey, Order, type OrderItemRow, type OrderRow, OrderStatusHistory, type OrderStatusHistoryRow } from "./entities.js";
import type { AddressData } from "./domain/address.js";
import { kickAfterCommit, OUTBOX_COLUMNS, type OutboxRecord } from "../../lib/events/index.js";
import { sql as execute } from "../../lib/db/index.js";

/**
 * Order persistence. Reads go through the entities; writes are explicit SQL on the caller's
 * transaction, so that a status change, its history row, its outbox events and the
 * NOTIFY that wakes WatchOrder streams commit (or roll back) together.
 */

/** Postgres channel on which every status change announces its order id (see watch.ts). */
export const STATUS_CHANNEL = "order_status";

/** An order with its lines and (optionally) its status history, oldest first. */
export interface OrderView {
  order: OrderRow;
  items: OrderItemRow[];
  history: OrderStatusHistoryRow[];
}

export interface NewOrder {
  id: string;
  customerId: string;
  shippingAddress: AddressData;
  priced: PricedOrder;
}

/** What order.created tells of its customer. */
export interface CustomerContact {
  id: string;
  email: string;
  name: string;
  phone: string;
}

/** The customer's contact details, or undefined. */
export async function findCustomer(em: EntityManager, customerId: string): Promise<CustomerContact | undefined> {
  const [row] = await execute<CustomerContact>(em, "SELECT id, email, name, phone FROM customers WHERE id = ?", [customerId]);
  return row;
}

export function findIdempotencyKey(em: EntityManager, customerId: string, key: string) {
  return em.findOne(IdempotencyKey, { customerId, key });
}

/** A new order together with what must commit with it. */
export interface PlacedOrder extends NewOrder {
  /** The customer's contact details as order.created carries them: stored only while still current. */
  contact: CustomerContact;
  /** The CreateOrder idempotency key, claimed in the same statement. */
  key?: { key: string; requestHash: string };
  /** The order.created outbox row. */
  created: OutboxRecord;
}

// One statement, so one round trip and one implicit transaction: check that the customer's
// contact details are still those order.created carries, claim the idempotency key (or proceed
// without one), then the order, its items, its first history row, the order.created outbox row
// and the NOTIFY that wakes WatchOrder streams. Every insert depends on the check and the claim,
// so a changed customer or a taken key writes nothing. Foreign keys between the CTEs hold: they
// are checked at statement end.
const INSERT_PLACED_ORDER = `
  with contact as (
    select 1 from customers where id = ?::uuid and email = ? and name = ? and phone = ?
  ), claimed as (
    insert into idempotency_keys (customer_id, key, request_hash, order_id)
    select ?::uuid, ?::text, ?::text, ?::uuid where ?::boolean and exists (select 1 from contact)
    on conflict (customer_id, key) do nothing
    returning order_id
  ), go as (
    select 1 from claimed union all select 1 where not ?::boolean and exists (select 1 from contact)
  ), o as (
    insert into orders (id, customer_id, status, currency_code, total_minor, shipping_address)
    select ?::uuid, ?::uuid, 'PENDING', ?, ?::bigint, ?::jsonb where exists (select 1 from go)
    returning created_at, updated_at, version
  ), i as (
    insert into order_items (order_id, product_id, position, product_name, quantity, unit_price_minor, line_total_minor)
    select ?::uuid, l.product_id, l.position, l.product_name, l.quantity, l.unit_price_minor, l.line_total_minor
    from unnest(?::uuid[], ?::int[], ?::text[], ?::int[], ?::bigint[], ?::bigint[])
      as l(product_id, position, product_name, quantity, unit_price_minor, line_total_minor)
    where exists (select 1 from go)
  ), h as (
    insert into order_status_history (order_id, from_status, to_status, reason, event_id)
    select ?::uuid, null, 'PENDING', 'order placed', null where exists (select 1 from go)
    returning id, changed_at
  ), x as (
    insert into outbox (${OUTBOX_COLUMNS})
    select ?::uuid, ?, ?, ?, ?, ?::bytea, ?::jsonb where exists (select 1 from go)
  )
  select o.created_at, o.updated_at, o.version, h.id as history_id, h.changed_at, pg_notify(?, ?)
  from o, h`;

/**
 * Stores a placed order in one statement (see above). Returns the order as stored, or undefined
 * when the customer is gone or their contact details differ from `order.contact`, or when its
 * idempotency key is taken: by a committed order, or by a concurrent request, in which case this
 * waits for that request's statement.
 */
export async function insertPlacedOrder(em: EntityManager, order: PlacedOrder): Promise<OrderView | undefined> {
  const { priced, contact } = order;
  const lines = priced.lines;
  const [row] = await execute<{ created_at: Date; updated_at: Date; version: number; history_id: string; changed_at: Date }>(em, INSERT_PLACED_ORDER, [
    order.customerId,
    contact.email,
    contact.name,
    contact.phone,
    order.customerId,
    order.key?.key ?? "",
    order.key?.requestHash ?? "",
    order.id,
    order.key !== undefined,
    order.key !== undefined,
    order.id,
    order.customerId,
    priced.currencyCode,
    priced.totalMinor.toString(),
    JSON.stringify(order.shippingAddress),
    order.id,
    lines.map((l) => l.productId),
    lines.map((_, position) => position),
    lines.map((l) => l.productName),
    lines.map((l) => l.quantity),
    lines.map((l) => l.unitPriceMinor.toString()),
    lines.map((l) => l.lineTotalMinor.toString()),
    order.id,
    ...order.created.values,
    STATUS_CHANNEL,
    order.id,
  ]);
  if (!row) return undefined;
  return {
    order: {
      id: order.id,
      customerId: order.customerId,
      status: "PENDING",
      currencyCode: priced.currencyCode,
      totalMinor: priced.totalMinor,
      shippingAddress: order.shippingAddress,
      cardLast4: "",
      paymentId: "",
      refundedMinor: 0n,
      failureReason: "",
      createdAt: new Date(row.created_at),
      updatedAt: new Date(row.updated_at),
      version: row.version,
    },
    items: lines.map((l, position) => ({
      orderId: order.id,
      productId: l.productId,
      position,
      productName: l.productName,
      quantity: l.quantity,
      unitPriceMinor: l.unitPriceMinor,
      lineTotalMinor: l.lineTotalMinor,
    })),
    history: [
      {
        id: Number(row.history_id),
        orderId: order.id,
        fromStatus: null,
        toStatus: "PENDING",
        reason: "order placed",
        eventId: null,
        changedAt: new Date(row.changed_at),
      },
    ],
  };
}

/** What the order.confirmed event carries besides the order: its lines and who the customer is. */
export interface ConfirmationDetails {
  items: OrderItemRow[];
  customerName: string;
  customerEmail: string;
}

/** An order read under its row lock; `confirmation` when it was locked to be confirmed. */
export type LockedOrder = OrderRow & { confirmation?: ConfirmationDetails };

const ORDER_COLUMNS = `o.id, o.customer_id, o.status, o.currency_code, o.total_minor, o.shipping_address, o.card_last4, o.payment_id,
  o.refunded_minor, o.failure_reason, o.created_at, o.updated_at, o.version`;

// Always in id order: transactions that lock overlapping sets of orders then wait for each other
// instead of deadlocking.
const LOCK_ORDERS = `SELECT ${ORDER_COLUMNS} FROM orders o WHERE o.id = ANY(?::uuid[]) ORDER BY o.id FOR UPDATE`;

// The same, with what order.confirmed needs, so a confirmation reads nothing more.
const LOCK_ORDERS_TO_CONFIRM = `
  SELECT ${ORDER_COLUMNS}, c.name AS customer_name, c.email AS customer_email,
    (SELECT json_agg(json_build_object('product_id', i.product_id, 'position', i.position, 'product_name', i.product_name,
                                       'quantity', i.quantity, 'unit_price_minor', i.unit_price_minor::text,
                                       'line_total_minor', i.line_total_minor::text) ORDER BY i.position)
     FROM order_items i WHERE i.order_id = o.id) AS items
  FROM orders o LEFT JOIN customers c ON c.id = o.customer_id
  WHERE o.id = ANY(?::uuid[]) ORDER BY o.id FOR UPDATE OF o`;

/**
 * Locks the orders among `orderIds` that exist, in one statement, for the rest of the
 * transaction (transitions of one order are serialized), and returns them by id. With
 * `confirmation`, each comes with its items and customer (see ConfirmationDetails).
 */
export async function lockOrders(em: EntityManager, orderIds: readonly string[], options: { confirmation?: boolean } = {}): Promise<Map<string, LockedOrder>> {
  const locked = new Map<string, LockedOrder>();
  if (orderIds.length === 0) return locked;
  const rows = await execute<Record<string, unknown>>(em, options.confirmation ? LOCK_ORDERS_TO_CONFIRM : LOCK_ORDERS, [orderIds]);
  for (const row of rows) {
    const order: LockedOrder = toOrderRow(row);
    if (options.confirmation) order.confirmation = toConfirmation(order.id, row);
    locked.set(order.id, order);
  }
  return locked;
}

/** An order item as its columns come back from PostgreSQL (bigints as strings). */
interface OrderItemColumns {
  product_id: string;
  position: number;
  product_name: string;
  quantity: number;
  unit_price_minor: string;
  line_total_minor: string;
}

function toOrderItem(orderId: string, item: OrderItemColumns): OrderItemRow {
  return {
    orderId,
    productId: item.product_id,
    position: item.position,
    productName: item.product_name,
    quantity: item.quantity,
    unitPriceMinor: BigInt(item.unit_price_minor),
    lineTotalMinor: BigInt(item.line_total_minor),
  };
}

function toConfirmation(orderId: string, row: Record<string, unknown>): ConfirmationDetails {
  const items = (row.items ?? []) as OrderItemColumns[];
  return {
    items: items.map((item) => toOrderItem(orderId, item)),
    customerName: String(row.customer_name ?? ""),
    customerEmail: String(row.customer_email ?? ""),
  };
}

function toOrderRow(row: Record<string, unknown>): OrderRow {
  return {
    id: String(row.id),
    customerId: String(row.customer_id),
    status: row.status as OrderStatus,
    currencyCode: String(row.currency_code),
    totalMinor: BigInt(row.total_minor as string),
    shippingAddress: row.shipping_address as AddressData,
    cardLast4: String(row.card_last4 ?? ""),
    paymentId: String(row.payment_id ?? ""),
    refundedMinor: BigInt((row.refunded_minor as string | null) ?? 0),
    failureReason: String(row.failure_reason ?? ""),
    createdAt: new Date(row.created_at as Date),
    updatedAt: new Date(row.updated_at as Date),
    version: Number(row.version),
  };
}

// One statement for every status change of a transaction: the orders (one update each, guarded
// by the status they were locked in), a history row per change, the changes' outbox rows, and the
// NOTIFY that wakes WatchOrder streams (delivered at commit, to every replica's listener). Rows
// are inserted in array order, so an order's history ids grow in the order of its changes.
const WRITE_STATUS_CHANGES = `
  WITH u AS (
    UPDATE orders o SET status = t.to_status, failure_reason = t.failure_reason,
      payment_id = coalesce(t.payment_id, o.payment_id), card_last4 = coalesce(t.card_last4, o.card_last4),
      updated_at = now(), version = o.version + t.steps
    FROM unnest(?::uuid[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::int[])
      AS t(id, from_status, to_status, failure_reason, payment_id, card_last4, steps)
    WHERE o.id = t.id AND o.status = t.from_status
    RETURNING o.id
  ), h AS (
    INSERT INTO order_status_history (order_id, from_status, to_status, reason, event_id)
    SELECT * FROM unnest(?::uuid[], ?::text[], ?::text[], ?::text[], ?::uuid[])
  ), x AS (
    INSERT INTO outbox (${OUTBOX_COLUMNS})
    SELECT * FROM unnest(?::uuid[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bytea[], ?::jsonb[])
  )
  SELECT u.id, pg_notify(?, u.id::text) FROM u`;

/**
 * Writes the status changes of locked orders, in the order they were made, with the outbox rows
 * of the events they publish, in one statement (see above) on `em`'s transaction. Throws when an
 * order is not in the status its first change starts from (it changed under the lock: a bug).
 */
export async function writeStatusChanges(em: EntityManager, changes: readonly StatusChange[], events: readonly OutboxRecord[]): Promise<void> {
  if (changes.length === 0 && events.length === 0) return;
  const trx = em.getTransactionContext<Knex.Transaction>();
  if (!trx) throw new Error("writeStatusChanges must run in the transaction that locked the orders");
  const updates = orderUpdates(changes);
  const column = (i: number) => events.map((event) => event.values[i]);
  const rows = await execute(em, WRITE_STATUS_CHANGES, [
    updates.map((u) => u.orderId),
    updates.map((u) => u.from),
    updates.map((u) => u.to),
    updates.map((u) => u.failureReason),
    updates.map((u) => u.paymentId),
    updates.map((u) => u.cardLast4),
    updates.map((u) => u.steps),
    changes.map((c) => c.orderId),
    changes.map((c) => c.from),
    changes.map((c) => c.to),
    changes.map((c) => storedReason(c.reason)),
    changes.map((c) => c.eventId),
    ...[0, 1, 2, 3, 4, 5, 6].map(column),
    STATUS_CHANNEL,
  ]);
  if (rows.length !== updates.length) throw new Error(`${updates.length - rows.length} of ${updates.length} orders changed under their row lock`);
  if (events.length > 0) kickAfterCommit(em, trx);
}

/** Adds a refund to the order's refunded total. Returns false when the order does not exist. */
export async function recordRefund(em: EntityManager, orderId: string, amountMinor: bigint): Promise<boolean> {
  const rows = await execute(em, "UPDATE orders SET refunded_minor = refunded_minor + ?, updated_at = now() WHERE id = ? RETURNING id", [
    amountMinor.toString(),
    orderId,
  ]);
  return rows.length === 1;
}

/** The items of `orderIds`, by order and position: plain SQL, as it runs for every confirmation. */
async function findItems(em: EntityManager, orderIds: string[]): Promise<OrderItemRow[]> {
  if (orderIds.length === 0) return [];
  const rows = await execute<OrderItemColumns & { order_id: string }>(
    em,
    `SELECT order_id, product_id, position, product_name, quantity, unit_price_minor, line_total_minor
     FROM order_items WHERE order_id = ANY(?::uuid[]) ORDER BY order_id, position`,
    [orderIds],
  );
  return rows.map((row) => toOrderItem(row.order_id, row));
}

/** Status changes of an order after history row `afterId` (0 for all), oldest first. */
export function findHistory(em: EntityManager, orderId: string, afterId = 0): Promise<OrderStatusHistoryRow[]> {
  return em.find(OrderStatusHistory, { orderId, id: { $gt: afterId } }, { orderBy: { id: "asc" } });
}

/** An order with its items and history, or undefined. */
export async function loadOrder(em: EntityManager, orderId: string): Promise<OrderView | undefined> {
  const order = await em.findOne(Order, { id: orderId });
  if (!order) return undefined;
  const [items, history] = await Promise.all([findItems(em, [orderId]), findHistory(em, orderId)]);
  return { order, items, history };
}

export interface OrderFilter {
  customerId?: string;
  status?: OrderStatus;
  /** Keyset: only orders with a smaller id (newest first). */
  beforeId?: string;
}

/** Up to `limit` orders, newest first, with their items (no history). */
export async function listOrders(em: EntityManager, filter: OrderFilter, limit: number): Promise<OrderView[]> {
  const orders = await em.find(
    Order,
    {
      ...(filter.customerId ? { customerId: filter.customerId } : {}),
      ...(filter.status ? { status: filter.status } : {}),
      ...(filter.beforeId ? { id: { $lt: filter.beforeId } } : {}),
    },
    { orderBy: { id: "desc" }, limit },
  );
  const items = await findItems(
    em,
    orders.map((o) => o.id),
  );
  return orders.map((order) => ({ order, items: items.filter((i) => i.orderId === order.id), history: [] }));
}
