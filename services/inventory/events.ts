import { timestampFromDate, timestampNow } from "@bufbuild/protobuf/wkt";
import type { EntityManager } from "@mikro-orm/postgresql";
import {
  InventoryInsufficientSchema,
  InventoryLowStockSchema,
  InventoryProductChangedSchema,
  InventoryReleasedSchema,
  InventoryReservedSchema,
  ReleaseReason,
} from "../../gen/shop/events/v1/inventory_events_pb.js";
import { enqueue } from "../../lib/events/index.js";
import type { Line, Shortage } from "./domain/stock.js";
import type { LowStock, ReleaseReason as StoreReleaseReason, ReservationRow } from "./stock-store.js";

/** The inventory events, written to the outbox on the caller's transaction. */

function stockLines(lines: readonly Line[]) {
  return lines.map((l) => ({ productId: l.productId, quantity: l.quantity }));
}

export function publishReserved(em: EntityManager, reservation: ReservationRow): Promise<string> {
  return enqueue(
    em,
    InventoryReservedSchema,
    {
      orderId: reservation.orderId,
      customerId: reservation.customerId,
      occurredAt: timestampNow(),
      reservationId: reservation.id,
      lines: stockLines(reservation.lines),
      expiresAt: timestampFromDate(reservation.expiresAt),
    },
    { aggregateId: reservation.orderId },
  );
}

export function publishInsufficient(
  em: EntityManager,
  order: { orderId: string; customerId: string },
  shortages: readonly Shortage[],
  reason: string,
): Promise<string> {
  return enqueue(
    em,
    InventoryInsufficientSchema,
    {
      orderId: order.orderId,
      customerId: order.customerId,
      occurredAt: timestampNow(),
      shortages: shortages.map((s) => ({ productId: s.productId, requested: s.requested, available: s.available })),
      reason,
    },
    { aggregateId: order.orderId },
  );
}

const RELEASE_REASONS: Record<StoreReleaseReason, ReleaseReason> = {
  EXPIRED: ReleaseReason.EXPIRED,
  CANCELLED: ReleaseReason.CANCELLED,
  PAYMENT_FAILED: ReleaseReason.PAYMENT_FAILED,
  REJECTED: ReleaseReason.REJECTED,
  MANUAL: ReleaseReason.MANUAL,
  DELIVERY_FAILED: ReleaseReason.DELIVERY_FAILED,
  // Never published: an unfilled commit announces inventory.insufficient instead.
  UNFILLED: ReleaseReason.UNSPECIFIED,
};

export function publishReleased(em: EntityManager, reservation: ReservationRow, lines: readonly Line[], reason: StoreReleaseReason): Promise<string> {
  return enqueue(
    em,
    InventoryReleasedSchema,
    {
      orderId: reservation.orderId,
      customerId: reservation.customerId,
      occurredAt: timestampNow(),
      reservationId: reservation.id,
      reason: RELEASE_REASONS[reason],
      lines: stockLines(lines),
    },
    { aggregateId: reservation.orderId },
  );
}

export async function publishLowStock(em: EntityManager, lowStock: readonly LowStock[], orderId = ""): Promise<void> {
  for (const item of lowStock) {
    await enqueue(
      em,
      InventoryLowStockSchema,
      { orderId, occurredAt: timestampNow(), productId: item.productId, available: item.available, threshold: item.threshold },
      { aggregateId: item.productId },
    );
  }
}

/** UpdateProduct changed a product: caches of the catalog (order's) drop it. */
export function publishProductChanged(em: EntityManager, productId: string): Promise<string> {
  return enqueue(em, InventoryProductChangedSchema, { occurredAt: timestampNow(), productId }, { aggregateId: productId });
}
