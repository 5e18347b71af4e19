/**
 * Order pricing: pure integer arithmetic in minor units, with no I/O. Prices always come from
 * the catalog (inventory), never from the client; the order's currency is the catalog's, and
 * every line must share it.
 */

import { MAX_AMOUNT_MINOR } from "../../../lib/money.js";

export type ProductAvailability = "ACTIVE" | "INACTIVE" | "DISCONTINUED" | "UNKNOWN";

/** What the catalog says about one product at order time. */
export interface CatalogProduct {
  id: string;
  name: string;
  status: ProductAvailability;
  currencyCode: string;
  unitPriceMinor: bigint;
  /**
   * No units were available when inventory answered. Only this yes/no is kept fresh by
   * inventory's events (it announces available stock crossing zero), not the count itself.
   */
  soldOut: boolean;
}

/** One requested line: what and how many. */
export interface RequestedLine {
  productId: string;
  quantity: number;
}

export interface PricedLine {
  productId: string;
  productName: string;
  quantity: number;
  unitPriceMinor: bigint;
  lineTotalMinor: bigint;
}

export interface PricedOrder {
  currencyCode: string;
  lines: PricedLine[];
  totalMinor: bigint;
}

/** Why a request cannot be priced; `index` is the position of the offending line. */
export type PricingProblem =
  | { kind: "missing"; index: number; productId: string }
  | { kind: "not_orderable"; index: number; productId: string; status: ProductAvailability }
  | { kind: "currency_mismatch"; index: number; productId: string; expected: string; actual: string }
  | { kind: "invalid_price"; index: number; productId: string }
  | { kind: "too_large" };

export type PricingResult = { ok: true; order: PricedOrder } | { ok: false; problem: PricingProblem };

/** The largest amount a Money (int64) or a Postgres bigint can hold (lib/money's, re-exported for the order domain). */
export { MAX_AMOUNT_MINOR };

/** unit price * quantity, exact. */
export function lineTotal(unitPriceMinor: bigint, quantity: number): bigint {
  if (!Number.isSafeInteger(quantity) || quantity < 0) throw new RangeError(`quantity must be a non-negative integer, got ${quantity}`);
  return unitPriceMinor * BigInt(quantity);
}

/**
 * Prices `lines` from `catalog`. The first problem in line order wins, so the caller can name
 * the offending line. `currencyCode` (optional) is the currency the client expects to pay in;
 * without it, the first line's product sets the currency and the others must match it.
 */
export function priceOrder(lines: readonly RequestedLine[], catalog: ReadonlyMap<string, CatalogProduct>, currencyCode?: string): PricingResult {
  let currency = currencyCode || undefined;
  const priced: PricedLine[] = [];
  let total = 0n;
  for (const [index, line] of lines.entries()) {
    const product = catalog.get(line.productId);
    if (!product) return { ok: false, problem: { kind: "missing", index, productId: line.productId } };
    if (product.status !== "ACTIVE") {
      return { ok: false, problem: { kind: "not_orderable", index, productId: line.productId, status: product.status } };
    }
    if (product.unitPriceMinor < 0n) return { ok: false, problem: { kind: "invalid_price", index, productId: line.productId } };
    currency ??= product.currencyCode;
    if (product.currencyCode !== currency) {
      return {
        ok: false,
        problem: { kind: "currency_mismatch", index, productId: line.productId, expected: currency, actual: product.currencyCode },
      };
    }
    const lineTotalMinor = lineTotal(product.unitPriceMinor, line.quantity);
    total += lineTotalMinor;
    if (lineTotalMinor > MAX_AMOUNT_MINOR || total > MAX_AMOUNT_MINOR) return { ok: false, problem: { kind: "too_large" } };
    priced.push({
      productId: line.productId,
      productName: product.name,
      quantity: line.quantity,
      unitPriceMinor: product.unitPriceMinor,
      lineTotalMinor,
    });
  }
  if (currency === undefined) throw new RangeError("an order needs at least one line");
  return { ok: true, order: { currencyCode: currency, lines: priced, totalMinor: total } };
}
