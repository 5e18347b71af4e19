import { timestampNow } from "@bufbuild/protobuf/wkt";
import type { EntityManager } from "@mikro-orm/postgresql";
import { NotificationFailedSchema, NotificationSentSchema } from "../../gen/shop/events/v1/notification_events_pb.js";
import { enqueue } from "../../lib/events/index.js";
import type { ClaimedNotification } from "./notification-store.js";

/** The notification events, written to the outbox on the caller's transaction. */

export function publishSent(em: EntityManager, notification: ClaimedNotification): Promise<string> {
  return enqueue(
    em,
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

export function publishFailed(em: EntityManager, notification: ClaimedNotification, error: string): Promise<string> {
  return enqueue(
    em,
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
