import { create, type DescMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { uuidv7 } from "../ids.js";
import type { EntityManager } from "../db/index.js";
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
  if (!options.aggregateId) throw new Error(`enqueue ${schema.typeName}: aggregateId is required`);
  const route = eventRoute(schema);
  const payload = toBinary(schema, create(schema, message));
  const headers = injectHeaders();
  const correlationId = options.correlationId || orderIdOf(message) || getCorrelationId();
  if (correlationId) headers[CORRELATION_HEADER] = correlationId;
  else delete headers[CORRELATION_HEADER];
  const id = uuidv7();
  kickAfterCommit(em, trx);
  await trx.raw(
    `insert into outbox (id, aggregate_type, aggregate_id, event_type, subject, payload, headers)
     values (?, ?, ?, ?, ?, ?, ?::jsonb)`,
    [id, route.aggregateType, options.aggregateId, route.eventType, route.subjectSuffix, Buffer.from(payload), JSON.stringify(headers)],
  );
  return id;
}

// Every shop.events.v1 event starts with `order_id`; the order id is the correlation id.
function orderIdOf(message: unknown): string | undefined {
  const orderId = (message as { orderId?: unknown } | undefined)?.orderId;
  return typeof orderId === "string" && orderId !== "" ? orderId : undefined;
}
