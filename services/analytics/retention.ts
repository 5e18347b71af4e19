import { type ServiceDeps, startPeriodic, type Worker } from "../../lib/runtime/index.js";
import { pruneBefore } from "./analytics-queries.js";
import { sqlOn } from "./analytics-store.js";

const DAY_MS = 24 * 60 * 60_000;

/**
 * Deletes analytics older than `retentionDays` every `intervalMs`, so the per-minute rows and
 * timelines do not grow forever. Idempotent: several replicas may run it at once.
 */
export function startRetention({ orm, logger }: ServiceDeps, options: { retentionDays: number; intervalMs: number }): Worker {
  return startPeriodic(
    "analytics-retention",
    options.intervalMs,
    async () => {
      const deleted = await pruneBefore(sqlOn(orm.em.fork()), new Date(Date.now() - options.retentionDays * DAY_MS));
      if (deleted > 0) logger.info({ deleted, retention_days: options.retentionDays }, "old analytics deleted");
    },
    logger,
  );
}
