import type { Database } from "../../lib/db/index.js";
import { type ServiceDeps, startPeriodic, type Worker } from "../../lib/runtime/index.js";
import { inLinkedTrace } from "../../lib/telemetry/index.js";

/**
 * Card tokens are held only while an intent waits for inventory.reserved. The saga settles every
 * intent (charge, cancellation, expiry, rejection); this sweeper is the backstop for an order
 * whose events never came: after `maxAgeMs` (far beyond any reservation TTL, so the order has
 * long expired) the intent is CANCELLED and its token wiped. Returns how many were wiped.
 */
export async function sweepStaleIntents(orm: Database, maxAgeMs: number, batchSize = 500): Promise<number> {
  const rows = await orm.em.getConnection().execute<{ order_id: string; trace_parent: string | null }[]>(
    `UPDATE payment_intents SET status = 'CANCELLED', token = NULL, updated_at = now()
     WHERE order_id IN (
       SELECT order_id FROM payment_intents
       WHERE token IS NOT NULL AND status = 'PENDING' AND created_at < now() - ? * interval '1 millisecond'
       ORDER BY created_at LIMIT ? FOR UPDATE SKIP LOCKED)
     RETURNING order_id, trace_parent`,
    [maxAgeMs, batchSize],
  );
  // One statement did the work; each order still gets a trace of its own, linked to its saga,
  // so that searching an order by shop.order.id shows its token was wiped.
  for (const row of rows) {
    await inLinkedTrace({ name: "wipe stale card token", orderId: row.order_id, traceParent: row.trace_parent }, async () => undefined);
  }
  return rows.length;
}

export function startTokenSweeper({ orm, logger }: ServiceDeps, options: { intervalMs: number; maxAgeMs: number }): Worker {
  return startPeriodic(
    "payment-token-sweeper",
    options.intervalMs,
    async () => {
      const wiped = await sweepStaleIntents(orm, options.maxAgeMs);
      if (wiped > 0) logger.warn({ wiped }, "wiped the card tokens of payment intents that never settled");
    },
    logger,
  );
}
