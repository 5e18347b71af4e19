import { OrderConfirmedSchema } from "../../gen/shop/events/v1/order_events_pb.js";
import { requireOrderId } from "../../lib/events/index.js";
import { type ConsumerSpec, consume } from "../../lib/runtime/index.js";
import { announceInvoice, claimInvoices } from "./invoices.js";
import type { ObjectStore } from "./storage.js";

/**
 * The file service's part of the saga: on order.confirmed, store the order's invoice PDF once
 * and publish file.invoice_generated. The invoice is made from order.confirmed alone (it carries
 * lines, prices, customer, address and payment), so it waits for no other event; and since only
 * a confirmed order has that event, a cancelled or refunded order that never confirmed gets none.
 * An S3 outage throws an ordinary error: the events are retried on the backoff schedule.
 */
export function fileConsumers({ store }: { store: ObjectStore }): ConsumerSpec[] {
  return [
    consume(
      OrderConfirmedSchema,
      "file-invoice-confirmed",
      async (event, ctx) => {
        await announceInvoice(ctx, requireOrderId(event.orderId));
      },
      // The batch's invoices are rendered, claimed with one insert and stored together first.
      { beforeBatch: (events, em) => claimInvoices(em, store, events) },
    ),
  ];
}
