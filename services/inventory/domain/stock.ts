/**
 * Stock rules of the inventory service, as pure functions over numbers. The SQL that applies
 * them locks the product rows first, so these decisions see a consistent snapshot.
 */

export type ProductStatus = "ACTIVE" | "INACTIVE" | "DISCONTINUED";
export type StockStatus = "IN_STOCK" | "LOW_STOCK" | "OUT_OF_STOCK";

export interface StockLevel {
  productId: string;
  status: ProductStatus;
  available: number;
  reserved: number;
  sold: number;
  lowStockThreshold: number;
}

export interface Line {
  productId: string;
  quantity: number;
}

export interface Shortage {
  productId: string;
  requested: number;
  available: number;
  /** Why the line cannot be reserved: too few units, or the product is not for sale. */
  reason: "insufficient" | "inactive" | "discontinued" | "unknown";
}

/** IN_STOCK above the threshold, LOW_STOCK at or below it, OUT_OF_STOCK at zero. */
export function stockStatus(available: number, lowStockThreshold: number): StockStatus {
  if (available <= 0) return "OUT_OF_STOCK";
  return available <= lowStockThreshold ? "LOW_STOCK" : "IN_STOCK";
}

/**
 * Merges repeated product ids and orders lines by product id. Locking rows in one global
 * order is what keeps concurrent multi-line reservations from deadlocking each other.
 */
export function normalizeLines(lines: readonly Line[]): Line[] {
  const merged = new Map<string, number>();
  for (const line of lines) merged.set(line.productId, (merged.get(line.productId) ?? 0) + line.quantity);
  return [...merged.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([productId, quantity]) => ({ productId, quantity }));
}

/** All lines or none: the shortages that prevent reserving `lines` against `stock` (empty = reservable). */
export function findShortages(lines: readonly Line[], stock: ReadonlyMap<string, StockLevel | null>): Shortage[] {
  const shortages: Shortage[] = [];
  for (const line of lines) {
    const level = stock.get(line.productId);
    if (!level) {
      shortages.push({ productId: line.productId, requested: line.quantity, available: 0, reason: "unknown" });
    } else if (level.status !== "ACTIVE") {
      shortages.push({
        productId: line.productId,
        requested: line.quantity,
        available: level.available,
        reason: level.status === "DISCONTINUED" ? "discontinued" : "inactive",
      });
    } else if (level.available < line.quantity) {
      shortages.push({ productId: line.productId, requested: line.quantity, available: level.available, reason: "insufficient" });
    }
  }
  return shortages;
}

/** A one-line explanation of shortages for events and order history. */
export function describeShortages(shortages: readonly Shortage[]): string {
  return shortages
    .map((s) => (s.reason === "insufficient" ? `${s.productId}: ${s.requested} requested, ${s.available} available` : `${s.productId}: ${s.reason}`))
    .join("; ");
}

/** True when taking stock moved `available` from above the low-stock threshold to at or below it. */
export function crossedLowStock(before: number, after: number, lowStockThreshold: number): boolean {
  return before > lowStockThreshold && after <= lowStockThreshold;
}

/**
 * True when `available` went from none to some or from some to none: the product sold out, or
 * is back in stock. Caches of the catalog are told of these changes only, not of every move.
 */
export function crossedZero(before: number, after: number): boolean {
  return before > 0 !== after > 0;
}

/** Which counters a stock move adds the quantity to (+1) or takes it from (-1). */
export type StockChange = Partial<Record<"available" | "reserved" | "sold", 1 | -1>>;

/** The level after moving `quantity` units as `change` says; the counters it does not name stay. */
export function moveLevel(level: StockLevel, quantity: number, change: StockChange): StockLevel {
  return {
    ...level,
    available: level.available + (change.available ?? 0) * quantity,
    reserved: level.reserved + (change.reserved ?? 0) * quantity,
    sold: level.sold + (change.sold ?? 0) * quantity,
  };
}
