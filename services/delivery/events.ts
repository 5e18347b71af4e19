import { timestampNow } from "@bufbuild/protobuf/wkt";
import type { EntityManager } from "@mikro-orm/postgresql";
import { DeliveryStatus } from "../../gen/shop/delivery/v1/delivery_pb.js";
import { DeliveryCreatedSchema, DeliveryStatusChangedSchema } from "../../gen/shop/events/v1/delivery_events_pb.js";
import { enqueue } from "../../lib/events/index.js";
import type { DeliveryStatus as Status } from "./domain/delivery-status.js";
import type { DeliveryRow } from "./entities.js";

// The delivery events, written to the outbox on the caller's transaction (after the row was changed and locked).

/** The proto enum value of a delivery status. */
export function toProtoStatus(status: Status): DeliveryStatus {
  return DeliveryStatus[status];
}

/** Enqueues delivery.created for a new delivery. */
export function publishCreated(em: EntityManager, delivery: Pick<DeliveryRow, "id" | "orderId" | "customerId">): Promise<string> {
  return enqueue(
    em,
    DeliveryCreatedSchema,
    { orderId: delivery.orderId, customerId: delivery.customerId, occurredAt: timestampNow(), deliveryId: delivery.id },
    { aggregateId: delivery.id },
  );
}

/** Enqueues delivery.status_changed: the delivery moved from `from` to its current status. */
export function publishStatusChanged(em: EntityManager, delivery: DeliveryRow, from: Status, notes: string): Promise<string> {
  return enqueue(
    em,
    DeliveryStatusChangedSchema,
    {
      orderId: delivery.orderId,
      customerId: delivery.customerId,
      occurredAt: timestampNow(),
      deliveryId: delivery.id,
      fromStatus: toProtoStatus(from),
      toStatus: toProtoStatus(delivery.status),
      notes,
      carrier: delivery.carrier,
      trackingNumber: delivery.trackingNumber,
    },
    { aggregateId: delivery.id },
  );
}
