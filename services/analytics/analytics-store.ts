import type { EntityManager } from "@mikro-orm/postgresql";
import { sql } from "../../lib/db/index.js";
import { type CohortChange, cohortDeltas, type CounterDelta, sumDeltas } from "./domain/cohort.js";
import { type OrderProgress, progressByOrder, statusRank } from "./domain/order-progress.js";
import { type AnalyticsEvent, type EventFacts, factsOf, type ProductFact, type ProductSale } from "./facts.js";

/**
 * A way to run one SQL statement (`?` placeholders) and get its rows. applyEvents takes this
 * rather than an EntityManager so that tests can run it on any transaction; the consumer runs it
 * on its batch's.
 */
export type Sql = (text: string, params?: unknown[]) => Promise<Record<string, unknown>[]>;

/** Statements on `em`'s transaction (or autocommit outside one). */
export function sqlOn(em: EntityManager): Sql {
  return (text, params = []) => sql(em, text, params);
}

/** A timestamptz column as a Date (the driver may hand it over as a string). */
export function dateOrNull(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  return value instanceof Date ? value : new Date(String(value));
}

export interface ApplyResult {
  /** Events recorded now. */
  applied: number;
  /** Events already recorded before (or earlier in the same batch): nothing counted. */
  duplicates: number;
}

/** Each event once: the first occurrence of every event id in the batch. */
function distinct(events: AnalyticsEvent[]): AnalyticsEvent[] {
  const seen = new Set<string>();
  return events.filter((e) => !seen.has(e.eventId) && seen.add(e.eventId));
}

/**
 * Applies a batch of events in the caller's transaction, with a fixed number of statements
 * whatever the batch size (each a multi-row insert or upsert from one JSON parameter):
 * 1. records every event on its order's timeline; an event id already there (a redelivery, a
 *    replay, a duplicate in the batch) is skipped from here on, so nothing is counted twice;
 * 2. merges the new events into their orders' rows and learns from RETURNING what the cohort
 *    counters must move (status, funnel stages, saga latency);
 * 3. updates product names and low-stock state (latest event wins);
 * 4. adds to the per-minute counters and product sales.
 * Every merge is commutative, so the result does not depend on the order events arrive in.
 * Rows are written in key order so that concurrent batches lock them in the same order.
 */
export async function applyEvents(sql: Sql, events: AnalyticsEvent[]): Promise<ApplyResult> {
  const unique = distinct(events);
  if (unique.length === 0) return { applied: 0, duplicates: events.length };
  const described = unique.map((event) => ({ event, facts: factsOf(event) }));
  const fresh = await recordEvents(sql, described);
  if (fresh.size === 0) return { applied: 0, duplicates: events.length };
  const facts = described.filter((d) => fresh.has(d.event.eventId)).map((d) => d.facts);
  const counters: CounterDelta[] = facts.flatMap((f) => f.counters);
  const progress = progressByOrder(facts.flatMap((f) => (f.progress ? [f.progress] : [])));
  if (progress.length > 0) {
    for (const change of await mergeOrders(sql, progress)) counters.push(...cohortDeltas(change));
  }
  await updateProducts(
    sql,
    facts.flatMap((f) => f.products),
  );
  await addCounters(sql, sumDeltas(counters));
  await addSales(
    sql,
    facts.flatMap((f) => f.sales),
  );
  return { applied: fresh.size, duplicates: events.length - fresh.size };
}

/** Inserts the timeline rows; returns the ids of the events that were not there yet. */
async function recordEvents(sql: Sql, events: { event: AnalyticsEvent; facts: EventFacts }[]): Promise<Set<string>> {
  const rows = events
    .map(({ event: e, facts }) => ({
      event_id: e.eventId,
      order_id: e.orderId,
      customer_id: e.customerId,
      event_type: e.type,
      name: e.name,
      service: e.service,
      occurred_at: e.occurredAt.toISOString(),
      summary: facts.summary,
    }))
    .sort((a, b) => (a.event_id < b.event_id ? -1 : 1));
  const inserted = await sql(
    `INSERT INTO analytics_events (event_id, order_id, customer_id, event_type, name, service, occurred_at, summary)
     SELECT * FROM jsonb_to_recordset(?::jsonb)
       AS e(event_id uuid, order_id uuid, customer_id text, event_type text, name text, service text, occurred_at timestamptz, summary text)
     ON CONFLICT (event_id) DO NOTHING
     RETURNING event_id`,
    [JSON.stringify(rows)],
  );
  return new Set(inserted.map((row) => String(row.event_id)));
}

// The merged values of an upsert, written once here and used in several SET expressions.
const CREATED = "LEAST(o.created_at, EXCLUDED.created_at)";
const CONFIRMED = "LEAST(o.confirmed_at, EXCLUDED.confirmed_at)";
const STAGES = "(o.stages | EXCLUDED.stages)";
// COLLATE "C": ties break by byte order, as statusWins does in JavaScript.
const WINS = `(EXCLUDED.status_rank, EXCLUDED.status_at, EXCLUDED.status COLLATE "C") > (o.status_rank, o.status_at, o.status COLLATE "C")`;
const STATUS = `(CASE WHEN ${WINS} THEN EXCLUDED.status ELSE o.status END)`;
/** Stage bits plus 16 (latency) once created (and confirmed) are known; nothing before creation. */
const counted = (created: string, confirmed: string, stages: string) =>
  `(CASE WHEN ${created} IS NULL THEN 0 ELSE ${stages} | (CASE WHEN ${confirmed} IS NULL THEN 0 ELSE 16 END) END)`;
const countedStatus = (created: string, status: string) => `(CASE WHEN ${created} IS NULL OR ${status} = '' THEN NULL ELSE ${status} END)`;

/**
 * Upserts the orders' merged progress. ON CONFLICT DO UPDATE locks the row and merges with its
 * latest committed version, so concurrent batches about one order each count what they add,
 * exactly once; RETURNING reports it through newly_counted and uncounted_status.
 */
async function mergeOrders(sql: Sql, progress: OrderProgress[]): Promise<CohortChange[]> {
  const rows = progress.map((p) => ({
    order_id: p.orderId,
    created_at: p.createdAt?.toISOString() ?? null,
    confirmed_at: p.confirmedAt?.toISOString() ?? null,
    status: p.status?.name ?? "",
    status_rank: p.status ? statusRank(p.status.name) : 0,
    status_at: p.status?.at.toISOString() ?? "-infinity",
    stages: p.stages,
  }));
  const returned = await sql(
    `INSERT INTO analytics_orders AS o
       (order_id, created_at, confirmed_at, status, status_rank, status_at, stages, counted, counted_status, newly_counted, uncounted_status)
     SELECT i.order_id, i.created_at, i.confirmed_at, i.status, i.status_rank, i.status_at, i.stages,
       ${counted("i.created_at", "i.confirmed_at", "i.stages")},
       ${countedStatus("i.created_at", "i.status")},
       ${counted("i.created_at", "i.confirmed_at", "i.stages")},
       NULL
     FROM jsonb_to_recordset(?::jsonb)
       AS i(order_id uuid, created_at timestamptz, confirmed_at timestamptz, status text, status_rank int, status_at timestamptz, stages int)
     ORDER BY i.order_id
     ON CONFLICT (order_id) DO UPDATE SET
       created_at = ${CREATED},
       confirmed_at = ${CONFIRMED},
       status = ${STATUS},
       status_rank = CASE WHEN ${WINS} THEN EXCLUDED.status_rank ELSE o.status_rank END,
       status_at = CASE WHEN ${WINS} THEN EXCLUDED.status_at ELSE o.status_at END,
       stages = ${STAGES},
       counted = ${counted(CREATED, CONFIRMED, STAGES)},
       counted_status = ${countedStatus(CREATED, STATUS)},
       newly_counted = ${counted(CREATED, CONFIRMED, STAGES)} & ~o.counted,
       uncounted_status = o.counted_status,
       updated_at = now()
     RETURNING created_at, confirmed_at, newly_counted, uncounted_status, counted_status`,
    [JSON.stringify(rows)],
  );
  return returned.map((row) => ({
    createdAt: dateOrNull(row.created_at),
    confirmedAt: dateOrNull(row.confirmed_at),
    newlyCounted: Number(row.newly_counted),
    statusBefore: (row.uncounted_status as string | null) ?? null,
    statusNow: (row.counted_status as string | null) ?? null,
  }));
}

/** Product names and low-stock state; of several facts the latest (by event time) wins. */
async function updateProducts(sql: Sql, facts: ProductFact[]): Promise<void> {
  if (facts.length === 0) return;
  const byProduct = new Map<
    string,
    { product_id: string; name: string; name_at: string; low_available: number | null; low_threshold: number | null; low_at: string }
  >();
  const sorted = [...facts].sort((a, b) => a.at.getTime() - b.at.getTime());
  for (const fact of sorted) {
    const row = byProduct.get(fact.productId) ?? {
      product_id: fact.productId,
      name: "",
      name_at: "-infinity",
      low_available: null,
      low_threshold: null,
      low_at: "-infinity",
    };
    if (fact.name) Object.assign(row, { name: fact.name, name_at: fact.at.toISOString() });
    if (fact.lowStock) Object.assign(row, { low_available: fact.lowStock.available, low_threshold: fact.lowStock.threshold, low_at: fact.at.toISOString() });
    byProduct.set(fact.productId, row);
  }
  const rows = [...byProduct.values()].sort((a, b) => (a.product_id < b.product_id ? -1 : 1));
  await sql(
    `INSERT INTO analytics_products AS p (product_id, name, name_at, low_available, low_threshold, low_at)
     SELECT * FROM jsonb_to_recordset(?::jsonb)
       AS i(product_id uuid, name text, name_at timestamptz, low_available int, low_threshold int, low_at timestamptz)
     ORDER BY 1
     ON CONFLICT (product_id) DO UPDATE SET
       name = CASE WHEN EXCLUDED.name_at > p.name_at THEN EXCLUDED.name ELSE p.name END,
       name_at = GREATEST(p.name_at, EXCLUDED.name_at),
       low_available = CASE WHEN EXCLUDED.low_at > p.low_at THEN EXCLUDED.low_available ELSE p.low_available END,
       low_threshold = CASE WHEN EXCLUDED.low_at > p.low_at THEN EXCLUDED.low_threshold ELSE p.low_threshold END,
       low_at = GREATEST(p.low_at, EXCLUDED.low_at)`,
    [JSON.stringify(rows)],
  );
}

async function addCounters(sql: Sql, deltas: CounterDelta[]): Promise<void> {
  if (deltas.length === 0) return;
  // JSON has no bigint: the value goes as its decimal text, which jsonb_to_recordset reads as bigint exactly.
  const rows = deltas.map((d) => ({ minute: d.minute.toISOString(), metric: d.metric, dim: d.dim, value: d.value.toString() }));
  await sql(
    `INSERT INTO analytics_counters AS c (minute, metric, dim, value)
     SELECT * FROM jsonb_to_recordset(?::jsonb) AS i(minute timestamptz, metric text, dim text, value bigint)
     ORDER BY 1, 2, 3
     ON CONFLICT (minute, metric, dim) DO UPDATE SET value = c.value + EXCLUDED.value`,
    [JSON.stringify(rows)],
  );
}

async function addSales(sql: Sql, sales: ProductSale[]): Promise<void> {
  if (sales.length === 0) return;
  const sums = new Map<string, ProductSale>();
  for (const s of sales) {
    const key = `${s.minute.toISOString()}|${s.productId}|${s.currency}`;
    const seen = sums.get(key);
    if (seen) {
      seen.units += s.units;
      seen.revenueMinor += s.revenueMinor;
    } else {
      sums.set(key, { ...s });
    }
  }
  const rows = [...sums.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([, s]) => ({
      minute: s.minute.toISOString(),
      product_id: s.productId,
      currency: s.currency,
      units: s.units,
      revenue_minor: s.revenueMinor.toString(),
    }));
  await sql(
    `INSERT INTO analytics_product_sales AS s (minute, product_id, currency, units, revenue_minor)
     SELECT * FROM jsonb_to_recordset(?::jsonb) AS i(minute timestamptz, product_id uuid, currency text, units bigint, revenue_minor bigint)
     ORDER BY 1, 2, 3
     ON CONFLICT (minute, product_id, currency) DO UPDATE SET units = s.units + EXCLUDED.units, revenue_minor = s.revenue_minor + EXCLUDED.revenue_minor`,
    [JSON.stringify(rows)],
  );
}
