import { type ServiceDeps, startPeriodic, type Worker } from "../../lib/runtime/index.js";
import { inLinkedTrace } from "../../lib/telemetry/index.js";
import { publishReleased } from "./events.js";
import { lockReservationsAndStock } from "./stock-lock.js";
import * as store from "./stock-store.js";

/**
 * Releases reservations whose expiry has passed (inventory.released with reason EXPIRED), in
 * batches claimed with SKIP LOCKED so several replicas can sweep at once without overlap.
 */
export function startReservationSweeper({ orm, logger }: ServiceDeps, options: { intervalMs: number; batchSize?: number }): Worker {
  async function sweepBatch(): Promise<number> {
    return orm.em.fork().transactional(async (em) => {
      const expired = await store.claimExpired(em, options.batchSize ?? 100);
      // The claimed reservations and their stock, read and locked at once for the whole batch.
      await lockReservationsAndStock(em, { orderIds: expired.map((e) => e.orderId) });
      for (const { orderId, traceParent } of expired) {
        // Timer work: a trace of its own per order (the expiry and all it causes), linked to the order's.
        await inLinkedTrace({ name: "expire reservation", orderId, traceParent }, async () => {
          const outcome = await store.applyToReservation(em, orderId, { type: "expire" });
          if (outcome.kind === "released") await publishReleased(em, outcome.reservation, outcome.lines, outcome.reason);
        });
      }
      return expired.length;
    });
  }

  // Batch after batch until none is left, then wait for the next interval.
  return startPeriodic(
    "reservation-sweeper",
    options.intervalMs,
    async () => {
      for (let expired = await sweepBatch(); expired > 0; expired = await sweepBatch()) {
        logger.info({ expired }, "expired reservations released");
      }
    },
    logger,
  );
}
