import { OrderCancelledSchema, OrderConfirmedSchema } from "../../gen/shop/events/v1/order_events_pb.js";
import { requireOrderId } from "../../lib/events/index.js";
import { type ConsumerSpec, consume } from "../../lib/runtime/index.js";
import { cutText } from "../../lib/text.js";
import * as store from "./delivery-store.js";
import { publishCreated, publishStatusChanged } from "./events.js";
import { requireAddress } from "./validate.js";

/** The saga steps delivery owns: a PENDING delivery for every confirmed order, cancelled with the order if not shipped. */
export function deliveryConsumers(): ConsumerSpec[] {
  return [
    // A batch inserts its deliveries in one statement at the commit; a lone event at once.
    consume(
      OrderConfirmedSchema,
      "delivery-create",
      async (event, { em, logger }) => {
        const orderId = requireOrderId(event.orderId);
        // A confirmed order without a valid shipping address can never get a delivery: the
        // INVALID_ARGUMENT this throws sends the event straight to the DLQ.
        const address = requireAddress("shipping_address", event.shippingAddress);
        const outcome = await store.createDelivery(em, { orderId, customerId: event.customerId, address });
        if (outcome.kind === "existing") {
          // A redelivery, the RPC first, or the tombstone of an order cancelled before this arrived.
          logger.info({ delivery_id: outcome.delivery.id, delivery_status: outcome.delivery.status }, "order already has a delivery");
        } else {
          await publishCreated(em, outcome.delivery);
        }
      },
      {
        beforeBatch: async (events, em) => {
          if (events.length > 1) store.deferDeliveries(em);
        },
      },
    ),

    consume(OrderCancelledSchema, "delivery-cancel", async (event, { em, logger }) => {
      const orderId = requireOrderId(event.orderId);
      const notes = event.reason ? `order cancelled: ${cutText(event.reason, 500)}` : "order cancelled";
      const outcome = await store.cancelForOrder(em, { orderId, customerId: event.customerId }, notes);
      switch (outcome.kind) {
        case "cancelled":
          await publishStatusChanged(em, outcome.delivery, outcome.from, notes);
          break;
        case "tombstone":
          logger.info("order cancelled before its delivery was created; recorded so none will be");
          break;
        case "ignored":
          if (outcome.warn) logger.warn({ delivery_id: outcome.delivery.id, delivery_status: outcome.delivery.status }, outcome.why);
          else logger.info({ delivery_id: outcome.delivery.id }, outcome.why);
          break;
      }
    }),
  ];
}
