import { bucketOf } from "./latency-histogram.js";
import { LATENCY_COUNTED, STAGES, Stage } from "./order-progress.js";
import { minuteOf } from "./window.js";

/**
 * An addition to one per-minute counter. A bigint, as the counter's column is: the captured and
 * refunded counters add up money (minor units, lib/money), which must stay exact.
 */
export interface CounterDelta {
  minute: Date;
  metric: string;
  dim: string;
  value: bigint;
}

/** Counter names shared by the writer (facts, cohort) and the reader (dashboard). */
export const Metric = {
  /** Events by name ("order.created"), at the minute they happened. */
  EVENTS: "events",
  /** Orders by current status, at the minute the order was created (+1 / -1 as it moves). */
  ORDER_STATUS: "order_status",
  /** Orders that reached a funnel stage, at the minute the order was created. */
  FUNNEL: "funnel",
  /** Saga latency: orders per histogram bucket, their sum and count, at the minute of confirmation. */
  LATENCY_BUCKET: "latency_bucket",
  LATENCY_SUM_MS: "latency_sum_ms",
  LATENCY_COUNT: "latency_count",
  /** Per currency: captured and refunded minor units, completed payments. */
  CAPTURED: "captured",
  REFUNDED: "refunded",
  PAYMENTS: "payments",
  /** Low-stock crossings per product id. */
  LOW_STOCK: "low_stock",
  /** `failure:<kind>` per reason. */
  FAILURE_PREFIX: "failure:",
} as const;

/** What one upsert of an order's row changed in what the cohort counters hold. */
export interface CohortChange {
  createdAt: Date | null;
  confirmedAt: Date | null;
  /** Stage bits (and LATENCY_COUNTED) counted by this change for the first time. */
  newlyCounted: number;
  /** The status the order was counted under before, and now (null: not counted). */
  statusBefore: string | null;
  statusNow: string | null;
}

/**
 * The counter deltas of one order's change: its status moves from one bucket to another and
 * newly reached stages are counted, all at the minute the order was created; a newly known
 * saga latency (created -> confirmed) enters the histogram at the minute of confirmation.
 */
export function cohortDeltas(change: CohortChange): CounterDelta[] {
  const deltas: CounterDelta[] = [];
  if (!change.createdAt) return deltas;
  const created = minuteOf(change.createdAt);
  if (change.statusBefore !== change.statusNow) {
    if (change.statusBefore) deltas.push({ minute: created, metric: Metric.ORDER_STATUS, dim: change.statusBefore, value: -1n });
    if (change.statusNow) deltas.push({ minute: created, metric: Metric.ORDER_STATUS, dim: change.statusNow, value: 1n });
  }
  for (const stage of STAGES) {
    if (change.newlyCounted & Stage[stage]) deltas.push({ minute: created, metric: Metric.FUNNEL, dim: stage, value: 1n });
  }
  if (change.newlyCounted & LATENCY_COUNTED && change.confirmedAt) {
    const ms = Math.max(0, change.confirmedAt.getTime() - change.createdAt.getTime());
    const confirmed = minuteOf(change.confirmedAt);
    deltas.push(
      { minute: confirmed, metric: Metric.LATENCY_BUCKET, dim: String(bucketOf(ms)), value: 1n },
      { minute: confirmed, metric: Metric.LATENCY_SUM_MS, dim: "", value: BigInt(ms) },
      { minute: confirmed, metric: Metric.LATENCY_COUNT, dim: "", value: 1n },
    );
  }
  return deltas;
}

/** Adds up deltas with the same key and drops those that cancel out; sorted by key (a stable lock order). */
export function sumDeltas(deltas: CounterDelta[]): CounterDelta[] {
  const sums = new Map<string, CounterDelta>();
  for (const d of deltas) {
    const key = `${d.minute.toISOString()}\u0000${d.metric}\u0000${d.dim}`;
    const seen = sums.get(key);
    if (seen) seen.value += d.value;
    else sums.set(key, { ...d });
  }
  return [...sums.entries()]
    .filter(([, d]) => d.value !== 0n)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, d]) => d);
}
