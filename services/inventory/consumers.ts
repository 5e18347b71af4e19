import {
  OrderCancelledSchema,
  OrderConfirmedSchema,
  OrderCreatedSchema,
  OrderPaymentFailedSchema,
  OrderRejectedSchema,
} from "../../gen/shop/events/v1/order_events_pb.js";
import { PermanentError, requireOrderId } from "../../lib/events/index.js";
import { isUuid } from "../../lib/ids.js";
import { type ConsumerSpec, consume } from "../../lib/runtime/index.js";
import { describeShortages, type Line } from "./domain/stock.js";
import { publishInsufficient, publishLowStock, publishReleased, publishReserved } from "./events.js";
import * as store from "./stock-store.js";

function linesOf(event: { lines: { productId: string; quantity: number }[] }): Line[] {
  const lines = event.lines.map((l) => ({ productId: l.productId, quantity: l.quantity }));
  if (lines.length === 0 || lines.some((l) => !isUuid(l.productId) || !Number.isInteger(l.quantity) || l.quantity <= 0)) {
    throw new PermanentError("event has no lines, or a line with an invalid product id or quantity");
  }
  return lines;
}

/** The saga steps inventory owns: reserve on order.created, commit on confirmation, release on every way out. */
export function inventoryConsumers(options: { reservationTtlMs: number }): ConsumerSpec[] {
  const releaseOn = (reason: store.ReleaseReason, returnSold = false) =>
    async function handle(event: { orderId: string }, { em }: { em: Parameters<typeof store.release>[0] }) {
      const outcome = await store.release(em, requireOrderId(event.orderId), reason, { returnSold });
      if (outcome.kind === "released") await publishReleased(em, outcome.reservation, outcome.lines, reason);
    };

  return [
    consume(OrderCreatedSchema, "inventory-reserve", async (event, { em, logger }) => {
      const order = { orderId: requireOrderId(event.orderId), customerId: event.customerId };
      const outcome = await store.reserve(em, order, linesOf(event), options.reservationTtlMs);
      switch (outcome.kind) {
        case "reserved":
          await publishReserved(em, outcome.reservation);
          await publishLowStock(em, outcome.lowStock, order.orderId);
          break;
        case "insufficient":
          await publishInsufficient(em, order, outcome.shortages, `insufficient stock: ${describeShortages(outcome.shortages)}`);
          break;
        case "existing":
          // Released (cancelled) before this event arrived, or reserved through the RPC.
          logger.info({ reservation_status: outcome.reservation.status }, "order already has a reservation");
          break;
      }
    }),

    consume(OrderConfirmedSchema, "inventory-commit", async (event, { em }) => {
      const orderId = requireOrderId(event.orderId);
      const outcome = await store.commit(em, orderId);
      if (outcome.kind === "missing") {
        // order.confirmed cannot precede inventory.reserved of the same order; retry, then DLQ.
        throw new Error(`no reservation for confirmed order ${orderId}`);
      }
      if (outcome.kind === "insufficient") {
        const order = { orderId, customerId: event.customerId };
        await publishInsufficient(em, order, outcome.shortages, `reservation expired and stock is gone: ${describeShortages(outcome.shortages)}`);
      }
    }),

    consume(OrderRejectedSchema, "inventory-release-rejected", releaseOn("REJECTED")),
    consume(OrderPaymentFailedSchema, "inventory-release-payment-failed", releaseOn("PAYMENT_FAILED")),
    // After payment the stock was sold; a cancellation returns it to available.
    consume(OrderCancelledSchema, "inventory-release-cancelled", releaseOn("CANCELLED", true)),
  ];
}
