import { timestampNow } from "@bufbuild/protobuf/wkt";
import { NotificationFailedSchema, NotificationSentSchema } from "../../gen/shop/events/v1/notification_events_pb.js";
import { outboxRecord, type OutboxRecord } from "../../lib/events/index.js";
import type { ClaimedNotification } from "./notification-store.js";

/**
 * The notification events, built under the trace context of the attempt they report and
 * written with the attempt's outcome (`enqueueRecords`).
 */

export function sentEvent(notification: ClaimedNotification): OutboxRecord {
  return outboxRecord(
    NotificationSentSchema,
    {
      orderId: notification.orderId ?? "",
      customerId: notification.customerId,
      occurredAt: timestampNow(),
      notificationId: notification.id,
      channel: notification.channel,
    },
    { aggregateId: notification.id },
  );
}

export function failedEvent(notification: ClaimedNotification, error: string): OutboxRecord {
  return outboxRecord(
    NotificationFailedSchema,
    {
      orderId: notification.orderId ?? "",
      customerId: notification.customerId,
      occurredAt: timestampNow(),
      notificationId: notification.id,
      channel: notification.channel,
      error: error.slice(0, 2000),
      attempts: notification.attempts,
    },
    { aggregateId: notification.id },
  );
}
