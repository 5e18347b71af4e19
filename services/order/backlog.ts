import type { Database } from "../../lib/db/index.js";
import { sql } from "../../lib/db/index.js";
import { resourceExhausted } from "../../lib/errors.js";
import type { Logger } from "../../lib/log.js";
import { startPeriodic, type Worker } from "../../lib/runtime/index.js";
import { nextDrainRate, shouldShed } from "./domain/backlog.js";

export interface BacklogOptions {
  /** Shed while an order placed now would wait longer than this for its saga (SAGA_BACKLOG_MAX_AGE_MS). */
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
 * the unsettled (PENDING or RESERVED) orders, dates the oldest by its UUIDv7 id (one scan of
 * orders_status_idx) and measures how fast orders leave those statuses; `admit()` answers
 * RESOURCE_EXHAUSTED with a retry delay while an order placed now would wait longer than the
 * bound (domain/backlog.ts), so a client backs off instead of queueing behind minutes of sagas.
 * The figures are per database, so every replica sheds alike.
 */
export class SagaBacklog {
  private unsettled = 0;
  private oldestCreatedAt: number | undefined;
  private sampledAt = 0;
  /** The last order_status_history row counted; undefined before the first sample. */
  private lastHistoryId: string | undefined;
  /** Smoothed orders per second that left PENDING / RESERVED. */
  private drainPerSecond = 0;

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
    // One statement: the unsettled orders and the oldest of them (one scan of
    // orders_status_idx); the transitions out of PENDING / RESERVED since the last sample, read
    // from the history's primary key onwards (the rows of one interval, whichever replica wrote
    // them); and the newest history row, where the next sample starts.
    const [row] = await sql<{ unsettled: string; oldest: string | null; settled: string; last: string | null }>(
      this.orm.em.fork(),
      `SELECT o.unsettled, o.oldest, h.settled, (SELECT max(id)::text FROM order_status_history) AS last
       FROM (SELECT count(*) AS unsettled, min(id::text) AS oldest FROM orders WHERE status IN ('PENDING', 'RESERVED')) o,
            (SELECT count(*) FILTER (WHERE from_status IN ('PENDING', 'RESERVED') AND to_status NOT IN ('PENDING', 'RESERVED')) AS settled
             FROM order_status_history WHERE id > ?::bigint) h`,
      [this.lastHistoryId ?? "9223372036854775806"],
    );
    const now = Date.now();
    // The first sample only finds where to start counting.
    if (this.lastHistoryId !== undefined) {
      const sample = { settled: Number(row?.settled ?? 0), intervalMs: now - this.sampledAt, unsettledAtStart: this.unsettled };
      this.drainPerSecond = nextDrainRate(this.drainPerSecond, sample, this.options.minOrders);
    }
    this.lastHistoryId = row?.last ?? "0";
    const oldest = row?.oldest ?? undefined;
    const shedding = this.verdict().shed;
    this.unsettled = Number(row?.unsettled ?? 0);
    this.oldestCreatedAt = oldest ? uuidv7Time(oldest) : undefined;
    this.sampledAt = now;
    const verdict = this.verdict();
    if (verdict.shed !== shedding) {
      this.logger.warn(
        { unsettled: this.unsettled, oldest_age_ms: verdict.oldestAgeMs, drain_per_s: Math.round(this.drainPerSecond) },
        verdict.shed ? "saga backlog over its bounds: shedding new orders" : "saga backlog back within its bounds",
      );
    }
  }

  private verdict() {
    const oldestAgeMs = this.oldestCreatedAt === undefined ? 0 : Date.now() - this.oldestCreatedAt;
    return { oldestAgeMs, ...shouldShed({ unsettled: this.unsettled, oldestAgeMs, drainPerSecond: this.drainPerSecond }, this.options) };
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
