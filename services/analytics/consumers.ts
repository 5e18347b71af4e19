import type { DescMessage, Message } from "@bufbuild/protobuf";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { eventRoute, PermanentError } from "../../lib/events/index.js";
import { isUuid } from "../../lib/ids.js";
import { type ConsumerSpec, consumeBatches } from "../../lib/runtime/index.js";
import { cutText } from "../../lib/text.js";
import { applyEvents, sqlOn } from "./analytics-store.js";
import { EVENT_TYPES } from "./event-types.js";
import type { AnalyticsEvent } from "./facts.js";

/** The fields every domain event shares (see proto/shop/events/v1). */
interface CommonFields {
  orderId?: string;
  customerId?: string;
  occurredAt?: Timestamp;
}

/**
 * An event as applyEvents takes it. An order id that is neither empty nor a UUID can never be
 * recorded: PermanentError sends that event to the DLQ instead of retrying it.
 */
export function toAnalyticsEvent(schema: DescMessage, message: Message, eventId: string, receivedAt = new Date()): AnalyticsEvent {
  const common = message as Message & CommonFields;
  const orderId = common.orderId ?? "";
  if (orderId !== "" && !isUuid(orderId)) throw new PermanentError(`event has an invalid order_id "${orderId.slice(0, 64)}"`);
  const occurredAt = common.occurredAt ? timestampDate(common.occurredAt) : receivedAt;
  const route = eventRoute(schema);
  return {
    eventId: eventId.toLowerCase(),
    type: schema.typeName,
    name: route.subjectSuffix,
    service: route.aggregateType,
    occurredAt: Number.isNaN(occurredAt.getTime()) ? receivedAt : occurredAt,
    orderId: orderId === "" ? null : orderId.toLowerCase(),
    customerId: cutText(common.customerId ?? "", 100),
    message,
  };
}

// A dashboard a fifth of a second behind costs nobody anything, while every event applied on
// its own costs a transaction of five statements: below saturation a batch waits this long for
// the rest of its saga's events.
const LINGER_MS = 200;

/**
 * One durable consumer (`analytics-events`) takes every domain event type and hands each batch
 * to applyEvents at once: a handful of set-based statements per batch, whatever its size. An
 * event whose order id is invalid fails its batch, which is then applied one event at a time, so
 * that event alone goes to the DLQ.
 */
export function analyticsConsumers(): ConsumerSpec[] {
  return [
    consumeBatches(
      EVENT_TYPES,
      "analytics-events",
      async (events, em) => {
        await applyEvents(
          sqlOn(em),
          events.map((e) => toAnalyticsEvent(e.schema, e.message, e.eventId)),
        );
      },
      { lingerMs: LINGER_MS },
    ),
  ];
}
