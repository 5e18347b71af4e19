import { invalidArgument } from "../../lib/errors.js";
import { requireId, requireQuantity } from "../../lib/validate.js";
import type { Line } from "./domain/stock.js";

export const MAX_LINES = 100;

export function requireLines(field: string, lines: readonly { productId: string; quantity: number }[]): Line[] {
  if (lines.length === 0) throw invalidArgument(field, "must contain at least one line");
  if (lines.length > MAX_LINES) throw invalidArgument(field, `must contain at most ${MAX_LINES} lines`);
  return lines.map((line, i) => ({
    productId: requireId(`${field}[${i}].product_id`, line.productId),
    quantity: requireQuantity(`${field}[${i}].quantity`, line.quantity),
  }));
}
