import type { MsgHdrs } from "@nats-io/transport-node";

/** Header carrying the event id (a UUIDv7, equal to the outbox row id); survives DLQ replay. */
export const EVENT_ID_HEADER = "event-id";
/** Header carrying the full protobuf message name, e.g. `shop.events.v1.OrderCreated`. */
export const EVENT_TYPE_HEADER = "event-type";
/** JetStream's de-duplication header; set through the publish `msgID` option. */
export const MSG_ID_HEADER = "Nats-Msg-Id";

/** Headers added to a dead letter, next to the original headers. */
export const DLQ_ERROR_HEADER = "dlq-error";
export const DLQ_CONSUMER_HEADER = "dlq-consumer";
export const DLQ_DELIVERY_COUNT_HEADER = "dlq-delivery-count";
export const DLQ_ORIGINAL_SUBJECT_HEADER = "dlq-original-subject";
export const DLQ_FAILED_AT_HEADER = "dlq-failed-at";

/** The first value of every header, as a plain object (handlers and logs need no MsgHdrs API). */
export function headerRecord(h: MsgHdrs | undefined): Record<string, string> {
  const record: Record<string, string> = {};
  if (!h) return record;
  for (const [key, values] of h) {
    if (values.length > 0) record[key] = values[0];
  }
  return record;
}

/** True for headers that belong to one publish (Nats-Msg-Id, Nats-Expected-*) and must not be copied. */
export function isTransportHeader(key: string): boolean {
  return key.toLowerCase().startsWith("nats-");
}

/** A header value on one line and at most `max` characters (NATS headers cannot hold CR/LF). */
export function headerValue(value: string, max = 1024): string {
  const line = value.replace(/[\r\n]+/g, " ").trim();
  return line.length > max ? `${line.slice(0, max - 3)}...` : line;
}
