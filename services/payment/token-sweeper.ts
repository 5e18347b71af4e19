import type { Database } from "../../lib/db/index.js";
import type { ServiceDeps, Worker } from "../../lib/runtime/index.js";

/**
 * Card tokens are held only while an intent waits for inventory.reserved. The saga settles every
 * intent (charge, cancellation, expiry, rejection); this sweeper is the backstop for an order
 * whose events never came: after `maxAgeMs` (far beyond any reservation TTL, so the order has
 * long expired) the intent is CANCELLED and its token wiped. Returns how many were wiped.
 */
export async function sweepStaleIntents(orm: Database, maxAgeMs: number, batchSize = 500): Promise<number> {
  const rows = await orm.em.getConnection().execute<{ order_id: string }[]>(
    `UPDATE payment_intents SET status = 'CANCELLED', token = NULL, updated_at = now()
     WHERE order_id IN (
       SELECT order_id FROM payment_intents
       WHERE token IS NOT NULL AND status = 'PENDING' AND created_at < now() - ? * interval '1 millisecond'
       ORDER BY created_at LIMIT ? FOR UPDATE SKIP LOCKED)
     RETURNING order_id`,
    [maxAgeMs, batchSize],
  );
  return rows.length;
}

export function startTokenSweeper({ orm, logger }: ServiceDeps, options: { intervalMs: number; maxAgeMs: number }): Worker {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  async function loop(): Promise<void> {
    try {
      const wiped = await sweepStaleIntents(orm, options.maxAgeMs);
      if (wiped > 0) logger.warn({ wiped }, "wiped the card tokens of payment intents that never settled");
    } catch (error) {
      logger.error({ err: error }, "payment intent sweep failed");
    }
    if (!stopped) timer = setTimeout(() => (running = loop()), options.intervalMs);
  }

  timer = setTimeout(() => (running = loop()), options.intervalMs);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
