import { create, type DescMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { uuidv7 } from "../ids.js";
import { type EntityManager, knexSql } from "../db/index.js";
import { CORRELATION_HEADER, getCorrelationId, injectHeaders } from "../telemetry/index.js";
import { kickAfterCommit } from "./relay.js";
import { transactionOf } from "./sql.js";
import { eventRoute } from "./subjects.js";

export interface EnqueueOptions {
  /** Id of the aggregate the event is about; events of one aggregate are published in order. */
  aggregateId: string;
  /** Overrides the correlation id (default: the event's `order_id`, else the active context's). */
  correlationId?: string;
}

/** One outbox row, ready to insert: `values` line up with `OUTBOX_COLUMNS`. */
export interface OutboxRecord {
  /** The event id (a UUIDv7): also its Nats-Msg-Id and `event-id` header. */
  readonly id: string;
  readonly values: readonly unknown[];
}

/** The outbox columns `OutboxRecord.values` fill, in order; the last one is jsonb. */
export const OUTBOX_COLUMNS = "id, aggregate_type, aggregate_id, event_type, subject, payload, headers";

/**
 * Builds the outbox row of an event without writing it, for a caller that inserts it as part of
 * a larger statement. The trace context and correlation id are taken from the active context,
 * as `enqueue` does.
 */
export function outboxRecord<Desc extends DescMessage>(schema: Desc, message: MessageInitShape<Desc>, options: EnqueueOptions): OutboxRecord {
  if (!options.aggregateId) throw new Error(`enqueue ${schema.typeName}: aggregateId is required`);
  const route = eventRoute(schema);
  const payload = toBinary(schema, create(schema, message));
  const headers = injectHeaders();
  const correlationId = options.correlationId || orderIdOf(message) || getCorrelationId();
  if (correlationId) headers[CORRELATION_HEADER] = correlationId;
  else delete headers[CORRELATION_HEADER];
  const id = uuidv7();
  return {
    id,
    values: [id, route.aggregateType, options.aggregateId, route.eventType, route.subjectSuffix, Buffer.from(payload), JSON.stringify(headers)],
  };
}

/**
 * Writes an event to the outbox in the caller's transaction and returns its id (a UUIDv7, also
 * its Nats-Msg-Id and `event-id` header). It is published only if that transaction commits, and
 * then at once: the commit wakes this process's relays (callers never need to).
 *
 * Write the state change first (flush or lock the aggregate row), then enqueue: events of one
 * aggregate are published in the order their transactions committed their outbox rows.
 */
export async function enqueue<Desc extends DescMessage>(
  em: EntityManager,
  schema: Desc,
  message: MessageInitShape<Desc>,
  options: EnqueueOptions,
): Promise<string> {
  const trx = transactionOf(em, "enqueue");
  const record = outboxRecord(schema, message, options);
  const collected = deferred.get(trx);
  if (collected) {
    collected.push(record);
    return record.id;
  }
  kickAfterCommit(em, trx);
  await knexSql(trx, `insert into outbox (${OUTBOX_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?::jsonb)`, record.values);
  return record.id;
}

// Outbox rows `enqueue` collects instead of writing, by the transaction they belong to.
const deferred = new WeakMap<object, OutboxRecord[]>();

/**
 * Runs `work` in `em`'s transaction with every `enqueue` on that transaction collected, then
 * writes the collected rows in one statement, still inside the transaction and in the order they
 * were enqueued. A consumer batch thus inserts one outbox row set instead of a statement (and a
 * round trip) per event. An `enqueue` in a nested transaction (a savepoint) writes at once, so
 * a savepoint that rolls back takes its events with it. If `work` throws nothing is written.
 */
export async function withDeferredOutbox<T>(em: EntityManager, work: () => Promise<T>): Promise<T> {
  const trx = transactionOf(em, "withDeferredOutbox");
  if (deferred.has(trx)) return work();
  const collected: OutboxRecord[] = [];
  deferred.set(trx, collected);
  let result: T;
  try {
    result = await work();
  } finally {
    deferred.delete(trx);
  }
  await enqueueRecords(em, collected);
  return result;
}

/**
 * Writes events built beforehand with `outboxRecord` (each under the trace context it belongs
 * to) in one statement on the caller's transaction; otherwise as `enqueue`.
 */
export async function enqueueRecords(em: EntityManager, records: readonly OutboxRecord[]): Promise<void> {
  if (records.length === 0) return;
  const trx = transactionOf(em, "enqueue");
  const collected = deferred.get(trx);
  if (collected) {
    collected.push(...records);
    return;
  }
  kickAfterCommit(em, trx);
  const rows = records.map(() => "(?, ?, ?, ?, ?, ?, ?::jsonb)").join(", ");
  await knexSql(
    trx,
    `insert into outbox (${OUTBOX_COLUMNS}) values ${rows}`,
    records.flatMap((record) => record.values),
  );
}

// Every shop.events.v1 event starts with `order_id`; the order id is the correlation id.
function orderIdOf(message: unknown): string | undefined {
  const orderId = (message as { orderId?: unknown } | undefined)?.orderId;
  return typeof orderId === "string" && orderId !== "" ? orderId : undefined;
}
