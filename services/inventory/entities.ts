import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import { createdAtColumn, updatedAtColumn } from "../../lib/db/timestamps.js";

/** A product of the catalog with its stock counters (see migrations/0001 for the constraints). */
export const Product = defineEntity({
  name: "Product",
  tableName: "products",
  properties: {
    id: p.uuid().primary(),
    sku: p.text().unique(),
    name: p.text(),
    description: p.text().default(""),
    priceMinor: p.bigint("bigint").fieldName("price_minor"),
    currencyCode: p.character().length(3).fieldName("currency_code"),
    status: p.enum(["ACTIVE", "INACTIVE", "DISCONTINUED"] as const),
    available: p.integer(),
    reserved: p.integer().default(0),
    sold: p.integer().default(0),
    lowStockThreshold: p.integer().default(5).fieldName("low_stock_threshold"),
    // Optimistic locking for catalog edits; stock changes go through row locks instead.
    version: p.integer().version(),
    createdAt: createdAtColumn(),
    updatedAt: updatedAtColumn(),
  },
});

/** One change of stock: the audit log of every reserve, release, commit, replenish and adjust. */
export const StockMovement = defineEntity({
  name: "StockMovement",
  tableName: "stock_movements",
  properties: {
    id: p.uuid().primary(),
    productId: p.uuid().fieldName("product_id"),
    orderId: p.uuid().nullable().fieldName("order_id"),
    type: p.enum(["RESERVE", "RELEASE", "COMMIT", "REPLENISH", "ADJUST", "EXPIRE"] as const),
    quantity: p.integer(),
    reason: p.text(),
    createdAt: p.datetime().fieldName("created_at"),
  },
});

export type ProductRow = InferEntity<typeof Product>;
export type StockMovementRow = InferEntity<typeof StockMovement>;

export const entities = [Product, StockMovement];
