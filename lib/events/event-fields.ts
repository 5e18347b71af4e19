import { isUuid } from "../ids.js";
import { PermanentError } from "./errors.js";

/**
 * The order id an event carries, lower-cased (ids are compared and stored in lower case
 * everywhere). A malformed id is a PermanentError: no retry can fix it, so the event goes to
 * the dead letters at once.
 */
export function requireOrderId(orderId: string): string {
  if (!isUuid(orderId)) throw new PermanentError(`event has an invalid order_id "${orderId.slice(0, 64)}"`);
  return orderId.toLowerCase();
}
