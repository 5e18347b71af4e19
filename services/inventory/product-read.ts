import type { EntityManager } from "@mikro-orm/postgresql";
import { sql as query } from "../../lib/db/index.js";
import type { ProductRow } from "./entities.js";

interface ProductRecord {
  id: string;
  sku: string;
  name: string;
  description: string;
  price_minor: string;
  currency_code: string;
  status: ProductRow["status"];
  available: number;
  reserved: number;
  sold: number;
  low_stock_threshold: number;
  version: number;
  created_at: Date;
  updated_at: Date;
}

/**
 * The products with these ids (the ones that exist), read without MikroORM: the order service
 * asks for them on every order its catalog cache cannot answer, and entity hydration cost more
 * CPU than the query. No locks: a snapshot for pricing, not a promise of stock.
 */
export async function readProducts(em: EntityManager, ids: readonly string[]): Promise<ProductRow[]> {
  if (ids.length === 0) return [];
  const rows = await query<ProductRecord>(
    em,
    `SELECT id, sku, name, description, price_minor, currency_code, status, available, reserved, sold, low_stock_threshold, version, created_at, updated_at
     FROM products WHERE id = ANY(?::uuid[])`,
    [ids],
  );
  return rows.map((row) => ({
    id: row.id,
    sku: row.sku,
    name: row.name,
    description: row.description,
    // int8 comes back from node-postgres as a string.
    priceMinor: BigInt(row.price_minor),
    currencyCode: row.currency_code,
    status: row.status,
    available: row.available,
    reserved: row.reserved,
    sold: row.sold,
    lowStockThreshold: row.low_stock_threshold,
    version: row.version,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  }));
}
