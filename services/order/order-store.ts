import { LockMode } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import { hasFailureReason, type OrderStatus } from "./domain/order-status.js";
import type { PricedOrder } from "./domain/pricing.js";
import { IdempotencyKey, Order, OrderItem, type OrderItemRow, type OrderRow, OrderStatusHistory, type OrderStatusHistoryRow } from "./entities.js";
import type { AddressData } from "./domain/address.js";

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

async function execute<T = Record<string, unknown>>(em: EntityManager, sql: string, params: unknown[] = []): Promise<T[]> {
  return em.getConnection().execute(sql, params, "all", em.getTransactionContext()) as Promise<T[]>;
}

export interface NewOrder {
  id: string;
  customerId: string;
  shippingAddress: AddressData;
  priced: PricedOrder;
}

/**
 * Claims an idempotency key for `orderId`. Returns false when the key is taken: by a committed
 * order, or by a concurrent request, in which case this waits for that request's transaction.
 */
export async function claimIdempotencyKey(em: EntityManager, key: { customerId: string; key: string; requestHash: string; orderId: string }): Promise<boolean> {
  const rows = await execute(
    em,
    `INSERT INTO idempotency_keys (customer_id, key, request_hash, order_id) VALUES (?, ?, ?, ?)
     ON CONFLICT (customer_id, key) DO NOTHING RETURNING order_id`,
    [key.customerId, key.key, key.requestHash, key.orderId],
  );
  return rows.length === 1;
}

export function findIdempotencyKey(em: EntityManager, customerId: string, key: string) {
  return em.findOne(IdempotencyKey, { customerId, key });
}

/** Inserts a PENDING order, its items and its first history row (null -> PENDING). */
export async function insertOrder(em: EntityManager, order: NewOrder): Promise<void> {
  const { priced } = order;
  await execute(
    em,
    `INSERT INTO orders (id, customer_id, status, currency_code, total_minor, shipping_address)
     VALUES (?, ?, 'PENDING', ?, ?, ?::jsonb)`,
    [order.id, order.customerId, priced.currencyCode, priced.totalMinor.toString(), JSON.stringify(order.shippingAddress)],
  );
  const values = priced.lines.map(() => "(?, ?, ?, ?, ?, ?, ?)").join(", ");
  await execute(
    em,
    `INSERT INTO order_items (order_id, product_id, position, product_name, quantity, unit_price_minor, line_total_minor) VALUES ${values}`,
    priced.lines.flatMap((line, position) => [
      order.id,
      line.productId,
      position,
      line.productName,
      line.quantity,
      line.unitPriceMinor.toString(),
      line.lineTotalMinor.toString(),
    ]),
  );
  await insertHistory(em, { orderId: order.id, from: null, to: "PENDING", reason: "order placed", eventId: null });
}

async function insertHistory(
  em: EntityManager,
  change: { orderId: string; from: OrderStatus | null; to: OrderStatus; reason: string; eventId: string | null },
): Promise<void> {
  await execute(em, "INSERT INTO order_status_history (order_id, from_status, to_status, reason, event_id) VALUES (?, ?, ?, ?, ?)", [
    change.orderId,
    change.from,
    change.to,
    change.reason.slice(0, 1000),
    change.eventId,
  ]);
  // Delivered at commit, to every replica's WatchOrder listener.
  await execute(em, "SELECT pg_notify(?, ?)", [STATUS_CHANNEL, change.orderId]);
}

/** The order, locked for the rest of the transaction (transitions of one order are serialized). */
export function lockOrder(em: EntityManager, orderId: string): Promise<OrderRow | null> {
  return em.findOne(Order, { id: orderId }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
}

export interface Transition {
  from: OrderStatus;
  to: OrderStatus;
  reason: string;
  /** The event that caused it; null for an RPC. */
  eventId: string | null;
  /** Set on payment.completed. */
  payment?: { paymentId: string; cardLast4: string };
}

/**
 * Moves a locked order from `transition.from` to `transition.to` and records the change in
 * order_status_history. Returns the order as it is now.
 */
export async function applyTransition(em: EntityManager, order: OrderRow, transition: Transition): Promise<OrderRow> {
  if (order.status !== transition.from) throw new Error(`order ${order.id} is ${order.status}, not ${transition.from}`);
  const failureReason = hasFailureReason(transition.to) ? transition.reason.slice(0, 1000) : "";
  const [row] = await execute<{ updated_at: Date | string; version: number }>(
    em,
    `UPDATE orders SET status = ?, failure_reason = ?, payment_id = coalesce(?, payment_id), card_last4 = coalesce(?, card_last4),
       updated_at = now(), version = version + 1
     WHERE id = ? AND status = ? RETURNING updated_at, version`,
    [
      transition.to,
      failureReason,
      transition.payment?.paymentId ?? null,
      transition.payment?.cardLast4 ?? null,
      order.id,
      transition.from,
    ],
  );
  if (!row) throw new Error(`order ${order.id} changed under a lock`);
  await insertHistory(em, { orderId: order.id, from: transition.from, to: transition.to, reason: transition.reason, eventId: transition.eventId });
  return {
    ...order,
    status: transition.to,
    failureReason,
    paymentId: transition.payment?.paymentId ?? order.paymentId,
    cardLast4: transition.payment?.cardLast4 ?? order.cardLast4,
    updatedAt: new Date(row.updated_at),
    version: row.version,
  };
}

/** Adds a refund to the order's refunded total. Returns false when the order does not exist. */
export async function recordRefund(em: EntityManager, orderId: string, amountMinor: bigint): Promise<boolean> {
  const rows = await execute(em, "UPDATE orders SET refunded_minor = refunded_minor + ?, updated_at = now() WHERE id = ? RETURNING id", [
    amountMinor.toString(),
    orderId,
  ]);
  return rows.length === 1;
}

export function findItems(em: EntityManager, orderIds: string[]): Promise<OrderItemRow[]> {
  if (orderIds.length === 0) return Promise.resolve([]);
  return em.find(OrderItem, { orderId: { $in: orderIds } }, { orderBy: { orderId: "asc", position: "asc" } });
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
