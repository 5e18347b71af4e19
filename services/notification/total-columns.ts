import { type Money, minorFromSql, money } from "../../lib/money.js";

/**
 * An order's total as notification_contacts stores it: total_minor and currency_code, both set
 * or both null. The store maps here and nowhere else; everything past it holds a `Money`.
 */
export interface TotalColumns {
  /** bigint as text, as node-postgres takes and returns it. */
  total_minor: string | null;
  currency_code: string | null;
}

/** The columns of `total` (null: both null). */
export function totalToColumns(total: Money | null): TotalColumns {
  return total ? { total_minor: total.amountMinor.toString(), currency_code: total.currencyCode } : { total_minor: null, currency_code: null };
}

/** The total the columns hold; null unless both are set (a half-stored total cannot be shown). */
export function totalFromColumns(row: { total_minor: unknown; currency_code: string | null }): Money | null {
  return row.total_minor === null || row.currency_code === null ? null : money(row.currency_code, minorFromSql(row.total_minor));
}
