import type { Database } from "../../lib/db/index.js";
import { sql } from "../../lib/db/index.js";
import { resourceExhausted } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";
import { startPeriodic, type Worker } from "../../lib/runtime/index.js";
import { shouldShed } from "./domain/backlog.js";

export interface BacklogOptions {
  /** Shed while the oldest unsettled order is older than this (SAGA_BACKLOG_MAX_AGE_MS). */
  maxAgeMs: number;
  /** ...and at least this many orders are unsettled (SAGA_BACKLOG_MIN_ORDERS). */
  minOrders: number;
  /** How often the backlog is measured. */
  sampleMs: number;
}

/** Milliseconds since the epoch in a UUIDv7 (its first 48 bits). */
function uuidv7Time(id: string): number {
  return Number.parseInt(id.replace(/-/g, "").slice(0, 12), 16);
}

/**
 * Keeps CreateOrder from accepting work the saga cannot finish soon. Every `sampleMs` it counts
 * the unsettled (PENDING or RESERVED) orders and dates the oldest by its UUIDv7 id, one index
 * scan on orders_status_idx; `admit()` then answers RESOURCE_EXHAUSTED with a retry delay while
 * the backlog is over its bounds, so a client backs off instead of queueing behind minutes of
 * sagas. The figure is per database, so every replica sheds alike.
 */
export class SagaBacklog {
  private unsettled = 0;
  private oldestCreatedAt: number | undefined;

  constructor(
    private readonly orm: Database,
    private readonly options: BacklogOptions,
    private readonly logger: Logger,
  ) {}

  /** Starts measuring; the worker stops it. */
  start(): Worker {
    return startPeriodic("saga-backlog", this.options.sampleMs, () => this.sample(), this.logger);
  }

  async sample(): Promise<void> {
    const [row] = await sql<{ unsettled: string; oldest: string | null }>(
      this.orm.em.fork(),
      "SELECT count(*) AS unsettled, min(id::text) AS oldest FROM orders WHERE status IN ('PENDING', 'RESERVED')",
    );
    const shedding = this.verdict().shed;
    this.unsettled = Number(row?.unsettled ?? 0);
    this.oldestCreatedAt = row?.oldest ? uuidv7Time(row.oldest) : undefined;
    const now = this.verdict();
    if (now.shed !== shedding) {
      this.logger.warn({ unsettled: this.unsettled, oldest_age_ms: now.oldestAgeMs }, now.shed ? "saga backlog over its bounds: shedding new orders" : "saga backlog back within its bounds");
    }
  }

  private verdict() {
    const oldestAgeMs = this.oldestCreatedAt === undefined ? 0 : Date.now() - this.oldestCreatedAt;
    return { oldestAgeMs, ...shouldShed({ unsettled: this.unsettled, oldestAgeMs }, this.options) };
  }

  /** Throws RESOURCE_EXHAUSTED, saying when to retry, while shedding. */
  admit(): void {
    const verdict = this.verdict();
    if (!verdict.shed) return;
    throw resourceExhausted(
      `orders are not being accepted for now: ${this.unsettled} orders are still in progress, the oldest for ${Math.round(verdict.oldestAgeMs / 1000)} s; retry in ${verdict.retryAfterSeconds} s`,
      verdict.retryAfterSeconds,
    );
  }
}
