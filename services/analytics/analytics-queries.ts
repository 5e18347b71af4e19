import { minorFromSql } from "../../lib/money.js";
import { Metric } from "./domain/cohort.js";
import { quantile } from "./domain/latency-histogram.js";
import { ORDER_STATUSES, type OrderStatusName, STAGES, type StageName } from "./domain/order-progress.js";
import { MINUTE_MS } from "./domain/window.js";
import { dateOrNull, type Sql } from "./analytics-store.js";

/** Reads for the RPCs. Every dashboard figure comes from per-minute rows of the window. */

export interface DashboardQuery {
  start: Date;
  end: Date;
  stepMinutes: number;
  topProducts: number;
}

export interface DashboardData {
  events: number;
  ordersByStatus: { status: OrderStatusName; orders: number }[];
  funnel: Record<StageName, number>;
  /** Money in minor units of each currency (lib/money), exact however large the sums get. */
  revenue: { currencyCode: string; capturedMinor: bigint; refundedMinor: bigint; payments: number }[];
  failures: { kind: string; reason: string; count: number }[];
  sagaLatency: { count: number; meanMs: number; p50Ms: number; p90Ms: number; p95Ms: number; p99Ms: number };
  topProducts: { productId: string; name: string; units: number; currencyCode: string; revenueMinor: bigint }[];
  lowStockProducts: { productId: string; name: string; available: number; threshold: number; at: Date; crossings: number }[];
  series: { start: Date; ordersCreated: number; ordersConfirmed: number; ordersFailed: number; events: number }[];
}

const FAILED_ORDER_EVENTS = new Set(["order.rejected", "order.payment_failed", "order.expired"]);
const LOW_STOCK_LIMIT = 100;

/** The dashboard over [start, end): four indexed range reads. */
export async function readDashboard(sql: Sql, q: DashboardQuery): Promise<DashboardData> {
  const window = [q.start.toISOString(), q.end.toISOString()];
  const [totals, series, top, low] = await Promise.all([
    sql(
      `SELECT metric, dim, sum(value)::text AS value FROM analytics_counters
       WHERE minute >= ?::timestamptz AND minute < ?::timestamptz GROUP BY metric, dim`,
      window,
    ),
    sql(
      `SELECT floor(extract(epoch FROM minute - ?::timestamptz) / ?)::int AS step, metric, dim, sum(value)::text AS value
       FROM analytics_counters
       WHERE minute >= ?::timestamptz AND minute < ?::timestamptz AND metric IN ('events', 'funnel', 'failure:delivery_failed')
       GROUP BY 1, 2, 3`,
      [q.start.toISOString(), q.stepMinutes * 60, ...window],
    ),
    sql(
      `SELECT s.product_id::text AS product_id, s.currency, coalesce(p.name, '') AS name,
         sum(s.units)::text AS units, sum(s.revenue_minor)::text AS revenue_minor
       FROM analytics_product_sales s LEFT JOIN analytics_products p ON p.product_id = s.product_id
       WHERE s.minute >= ?::timestamptz AND s.minute < ?::timestamptz
       GROUP BY s.product_id, s.currency, p.name
       ORDER BY sum(s.units) DESC, sum(s.revenue_minor) DESC, s.product_id
       LIMIT ?`,
      [...window, q.topProducts],
    ),
    sql(
      `SELECT c.dim AS product_id, sum(c.value)::text AS crossings, p.name, p.low_available, p.low_threshold, p.low_at
       FROM analytics_counters c JOIN analytics_products p ON p.product_id::text = c.dim
       WHERE c.metric = 'low_stock' AND c.minute >= ?::timestamptz AND c.minute < ?::timestamptz
       GROUP BY c.dim, p.name, p.low_available, p.low_threshold, p.low_at
       ORDER BY p.low_available ASC NULLS LAST, c.dim
       LIMIT ${LOW_STOCK_LIMIT}`,
      window,
    ),
  ]);

  const byMetric = new Map<string, Map<string, number>>();
  // The money counters, per currency, read exactly (the sums arrive as text).
  const amounts = new Map<string, Map<string, bigint>>([
    [Metric.CAPTURED, new Map()],
    [Metric.REFUNDED, new Map()],
  ]);
  for (const row of totals) {
    const metric = String(row.metric);
    const money = amounts.get(metric);
    if (money) {
      money.set(String(row.dim), minorFromSql(row.value));
      continue;
    }
    const dims = byMetric.get(metric) ?? new Map<string, number>();
    dims.set(String(row.dim), Number(row.value));
    byMetric.set(metric, dims);
  }
  const dims = (metric: string) => byMetric.get(metric) ?? new Map<string, number>();
  const captured = amounts.get(Metric.CAPTURED)!;
  const refunded = amounts.get(Metric.REFUNDED)!;
  const total = (metric: string) => [...dims(metric).values()].reduce((a, b) => a + b, 0);

  const currencies = new Set([...captured.keys(), ...refunded.keys()]);
  const failures: DashboardData["failures"] = [];
  for (const [metric, reasons] of byMetric) {
    if (!metric.startsWith(Metric.FAILURE_PREFIX)) continue;
    for (const [reason, count] of reasons) if (count > 0) failures.push({ kind: metric.slice(Metric.FAILURE_PREFIX.length), reason, count });
  }
  failures.sort((a, b) => b.count - a.count || a.kind.localeCompare(b.kind) || a.reason.localeCompare(b.reason));

  const buckets = new Map([...dims(Metric.LATENCY_BUCKET)].map(([bucket, count]) => [Number(bucket), count]));
  const latencyCount = total(Metric.LATENCY_COUNT);
  const q_ = (p: number) => quantile(buckets, p) ?? 0;

  const points = Math.ceil((q.end.getTime() - q.start.getTime()) / (q.stepMinutes * MINUTE_MS));
  const seriesPoints: DashboardData["series"] = Array.from({ length: points }, (_, i) => ({
    start: new Date(q.start.getTime() + i * q.stepMinutes * MINUTE_MS),
    ordersCreated: 0,
    ordersConfirmed: 0,
    ordersFailed: 0,
    events: 0,
  }));
  for (const row of series) {
    const point = seriesPoints[Number(row.step)];
    if (!point) continue;
    const value = Number(row.value);
    const dim = String(row.dim);
    if (row.metric === Metric.EVENTS) {
      point.events += value;
      if (dim === "order.confirmed") point.ordersConfirmed += value;
      if (FAILED_ORDER_EVENTS.has(dim)) point.ordersFailed += value;
    } else if (row.metric === Metric.FUNNEL && dim === "CREATED") {
      point.ordersCreated += value;
    } else if (row.metric === "failure:delivery_failed") {
      point.ordersFailed += value;
    }
  }

  return {
    events: total(Metric.EVENTS),
    ordersByStatus: ORDER_STATUSES.map((status) => ({ status, orders: dims(Metric.ORDER_STATUS).get(status) ?? 0 })).filter((s) => s.orders > 0),
    funnel: Object.fromEntries(STAGES.map((stage) => [stage, dims(Metric.FUNNEL).get(stage) ?? 0])) as Record<StageName, number>,
    revenue: [...currencies].sort().map((currencyCode) => ({
      currencyCode,
      capturedMinor: captured.get(currencyCode) ?? 0n,
      refundedMinor: refunded.get(currencyCode) ?? 0n,
      payments: dims(Metric.PAYMENTS).get(currencyCode) ?? 0,
    })),
    failures,
    sagaLatency: {
      count: latencyCount,
      meanMs: latencyCount > 0 ? total(Metric.LATENCY_SUM_MS) / latencyCount : 0,
      p50Ms: q_(0.5),
      p90Ms: q_(0.9),
      p95Ms: q_(0.95),
      p99Ms: q_(0.99),
    },
    topProducts: top.map((row) => ({
      productId: String(row.product_id),
      name: String(row.name),
      units: Number(row.units),
      currencyCode: String(row.currency),
      revenueMinor: minorFromSql(row.revenue_minor),
    })),
    lowStockProducts: low.map((row) => ({
      productId: String(row.product_id),
      name: String(row.name ?? ""),
      available: Number(row.low_available ?? 0),
      threshold: Number(row.low_threshold ?? 0),
      at: dateOrNull(row.low_at) ?? new Date(0),
      crossings: Number(row.crossings),
    })),
    series: seriesPoints,
  };
}

export interface TimelineRow {
  eventId: string;
  eventType: string;
  name: string;
  service: string;
  occurredAt: Date;
  recordedAt: Date;
  summary: string;
}

/** An order's events, oldest first (at most `limit`), and its merged status ('' when unknown). */
export async function readTimeline(sql: Sql, orderId: string, limit = 1_000): Promise<{ status: string; entries: TimelineRow[] }> {
  const [rows, order] = await Promise.all([
    sql(
      `SELECT event_id::text AS event_id, event_type, name, service, occurred_at, recorded_at, summary
       FROM analytics_events WHERE order_id = ? ORDER BY occurred_at, event_id LIMIT ?`,
      [orderId, limit],
    ),
    sql("SELECT status FROM analytics_orders WHERE order_id = ?", [orderId]),
  ]);
  return {
    status: String(order[0]?.status ?? ""),
    entries: rows.map((row) => ({
      eventId: String(row.event_id),
      eventType: String(row.event_type),
      name: String(row.name),
      service: String(row.service),
      occurredAt: dateOrNull(row.occurred_at)!,
      recordedAt: dateOrNull(row.recorded_at)!,
      summary: String(row.summary),
    })),
  };
}

/** Deletes what is older than `cutoff`: counters and sales by minute, events and orders by their last write. */
export async function pruneBefore(sql: Sql, cutoff: Date): Promise<number> {
  let deleted = 0;
  for (const statement of [
    "DELETE FROM analytics_counters WHERE minute < ?::timestamptz",
    "DELETE FROM analytics_product_sales WHERE minute < ?::timestamptz",
    "DELETE FROM analytics_events WHERE recorded_at < ?::timestamptz",
    "DELETE FROM analytics_orders WHERE updated_at < ?::timestamptz",
  ]) {
    const rows = await sql(`WITH gone AS (${statement} RETURNING 1) SELECT count(*)::int AS n FROM gone`, [cutoff.toISOString()]);
    deleted += Number(rows[0]?.n ?? 0);
  }
  return deleted;
}
