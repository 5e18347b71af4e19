import { afterCommit, type EntityManager } from "../../lib/db/index.js";
import { orderMetrics } from "../../lib/metrics/index.js";
import type { OrderRow } from "./entities.js";

/** Counts an order placed in `em`'s transaction, once it commits. */
export function countCreated(em: EntityManager): void {
  afterCommit(em, () => orderMetrics.created());
}

/** Counts the transition to `after.status` made in `em`'s transaction, once it commits. */
export function countTransition(em: EntityManager, after: OrderRow): void {
  switch (after.status) {
    case "CONFIRMED": {
      const { currencyCode, totalMinor } = after;
      afterCommit(em, () => orderMetrics.confirmed(currencyCode, BigInt(totalMinor)));
      return;
    }
    case "REJECTED":
      afterCommit(em, () => orderMetrics.rejected());
      return;
    case "PAYMENT_FAILED":
    case "EXPIRED":
    case "DELIVERY_FAILED": {
      const status = after.status;
      afterCommit(em, () => orderMetrics.failed(status));
      return;
    }
    default:
      return;
  }
}
