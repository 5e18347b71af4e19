import { OrderCreatedSchema } from "../../gen/shop/events/v1/order_events_pb.js";
import { PaymentCompletedSchema } from "../../gen/shop/events/v1/payment_events_pb.js";
import { requireOrderId } from "../../lib/events/index.js";
import { type ConsumerSpec, consume } from "../../lib/runtime/index.js";
import { generateInvoice, saveOrderSnapshot } from "./invoices.js";
import type { ObjectStore } from "./storage.js";

/**
 * The file service's part of the saga: remember each order as placed (order.created carries the
 * lines, prices, customer and address that payment.completed lacks), and on payment.completed
 * store the order's invoice PDF once and publish file.invoice_generated.
 */
export function fileConsumers({ store }: { store: ObjectStore }): ConsumerSpec[] {
  return [
    consume(OrderCreatedSchema, "file-order-snapshot", async (event, { em }) => {
      await saveOrderSnapshot(em, requireOrderId(event.orderId), event);
    }),

    // A missing snapshot (payment.completed overtook order.created) or an S3 outage throws an
    // ordinary error: the event is retried on the backoff schedule, then dead-lettered.
    consume(PaymentCompletedSchema, "file-invoice", async (event, ctx) => {
      await generateInvoice(ctx, store, requireOrderId(event.orderId), event);
    }),
  ];
}
