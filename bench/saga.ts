import { LatencyHistogram } from "./histogram.js";
import { IN_FLIGHT_STATUSES, type OrderJson, shortStatus } from "./model.js";

/** Saga timings from the orders' own timestamps (server clock): created_at and the status history. */
export interface SagaTimings {
  confirmed: number;
  settled: number;
  /** created_at -> CONFIRMED changed_at. */
  toConfirmed: LatencyHistogram;
  /** created_at -> first transition out of PENDING/RESERVED. */
  toSettled: LatencyHistogram;
  /** First created_at -> last CONFIRMED, in seconds. */
  windowSeconds: number;
  confirmedPerSecond: number;
  settledPerSecond: number;
}

function ms(timestamp: string | undefined): number | undefined {
  if (!timestamp) return undefined;
  const value = Date.parse(timestamp);
  return Number.isNaN(value) ? undefined : value + subMillis(timestamp);
}

/** Date.parse keeps milliseconds only; Timestamps in protobuf JSON carry up to nanoseconds. */
function subMillis(timestamp: string): number {
  const match = /\.(\d+)Z$/.exec(timestamp);
  if (!match || match[1].length <= 3) return 0;
  return Number(`0.${match[1].slice(3)}`);
}

/** When the order left PENDING/RESERVED for good (CONFIRMED or a final status), if it has. */
export function settledAt(order: OrderJson): { at: number; status: string } | undefined {
  for (const change of order.history ?? []) {
    const to = shortStatus(change.to_status);
    if (!IN_FLIGHT_STATUSES.has(to)) {
      const at = ms(change.changed_at);
      return at === undefined ? undefined : { at, status: to };
    }
  }
  return undefined;
}

/** When the order became CONFIRMED, if it did. */
export function confirmedAt(order: OrderJson): number | undefined {
  const change = (order.history ?? []).find((c) => shortStatus(c.to_status) === "CONFIRMED");
  return ms(change?.changed_at);
}

/**
 * Confirmed (and settled) sagas per second = how many orders got there, divided by the time
 * from the first order's created_at to the last such completion. All server-side timestamps.
 */
export function sagaTimings(orders: readonly OrderJson[]): SagaTimings {
  const toConfirmed = new LatencyHistogram();
  const toSettled = new LatencyHistogram();
  let first = Infinity;
  let lastConfirmed = -Infinity;
  let lastSettled = -Infinity;
  let confirmed = 0;
  let settled = 0;
  for (const order of orders) {
    const created = ms(order.created_at);
    if (created === undefined) continue;
    first = Math.min(first, created);
    const done = confirmedAt(order);
    if (done !== undefined) {
      confirmed++;
      toConfirmed.record(done - created);
      lastConfirmed = Math.max(lastConfirmed, done);
    }
    const end = settledAt(order);
    if (end !== undefined) {
      settled++;
      toSettled.record(end.at - created);
      lastSettled = Math.max(lastSettled, end.at);
    }
  }
  const window = (last: number) => (Number.isFinite(first) && Number.isFinite(last) && last > first ? (last - first) / 1000 : 0);
  const confirmedWindow = window(lastConfirmed);
  const settledWindow = window(lastSettled);
  return {
    confirmed,
    settled,
    toConfirmed,
    toSettled,
    windowSeconds: confirmedWindow,
    confirmedPerSecond: confirmedWindow > 0 ? confirmed / confirmedWindow : 0,
    settledPerSecond: settledWindow > 0 ? settled / settledWindow : 0,
  };
}
