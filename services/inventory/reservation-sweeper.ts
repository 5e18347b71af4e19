import { kickRelays } from "../../lib/events/index.js";
import type { ServiceDeps, Worker } from "../../lib/runtime/index.js";
import { publishReleased } from "./events.js";
import * as store from "./stock-store.js";

/**
 * Releases reservations whose expiry has passed (inventory.released with reason EXPIRED), in
 * batches claimed with SKIP LOCKED so several replicas can sweep at once without overlap.
 */
export function startReservationSweeper({ orm, logger }: ServiceDeps, options: { intervalMs: number; batchSize?: number }): Worker {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  async function sweep(): Promise<number> {
    return orm.em.fork().transactional(async (em) => {
      const orderIds = await store.claimExpired(em, options.batchSize ?? 100);
      for (const orderId of orderIds) {
        const outcome = await store.release(em, orderId, "EXPIRED");
        if (outcome.kind === "released") await publishReleased(em, outcome.reservation, outcome.lines, "EXPIRED");
      }
      return orderIds.length;
    });
  }

  async function loop(): Promise<void> {
    try {
      let expired: number;
      do {
        expired = await sweep();
        if (expired > 0) {
          logger.info({ expired }, "expired reservations released");
          kickRelays(orm);
        }
      } while (expired > 0 && !stopped);
    } catch (error) {
      logger.error({ err: error }, "reservation sweep failed");
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
