/**
 * Sold-out refusal, with no I/O: CreateOrder refuses an order for a product the catalog says has
 * no units available, instead of placing an order that inventory can only reject (a whole saga
 * for a "no"). What the catalog says may be slightly behind (see CachedCatalog); inventory's
 * reservation still decides, so an order that passed here while the last units went is REJECTED
 * by the saga as before.
 */
import type { CatalogProduct, RequestedLine } from "./pricing.js";

/** A line of the request whose product is sold out; `index` is its position. */
export interface SoldOutLine {
  index: number;
  productId: string;
}

/** The lines whose product the catalog says is sold out, in line order; empty when none is. Unknown products are pricing's concern. */
export function findSoldOut(lines: readonly RequestedLine[], catalog: ReadonlyMap<string, CatalogProduct>): SoldOutLine[] {
  return lines.flatMap((line, index) => (catalog.get(line.productId)?.soldOut ? [{ index, productId: line.productId }] : []));
}
