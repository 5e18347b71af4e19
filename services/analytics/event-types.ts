import type { DescMessage } from "@bufbuild/protobuf";
import { file_shop_events_v1_delivery_events } from "../../gen/shop/events/v1/delivery_events_pb.js";
import { file_shop_events_v1_file_events } from "../../gen/shop/events/v1/file_events_pb.js";
import { file_shop_events_v1_inventory_events } from "../../gen/shop/events/v1/inventory_events_pb.js";
import { file_shop_events_v1_notification_events } from "../../gen/shop/events/v1/notification_events_pb.js";
import { file_shop_events_v1_order_events } from "../../gen/shop/events/v1/order_events_pb.js";
import { file_shop_events_v1_payment_events } from "../../gen/shop/events/v1/payment_events_pb.js";

const FILES = [
  file_shop_events_v1_order_events,
  file_shop_events_v1_inventory_events,
  file_shop_events_v1_payment_events,
  file_shop_events_v1_notification_events,
  file_shop_events_v1_file_events,
  file_shop_events_v1_delivery_events,
];

/**
 * Every domain event type of shop.events.v1, read from the descriptors so that an event added
 * to the protos is consumed without touching this service. Messages named `Event...` are
 * payload parts, never published on their own (see the package comment).
 */
export const EVENT_TYPES: readonly DescMessage[] = FILES.flatMap((file) => file.messages.filter((m) => !m.name.startsWith("Event")));
