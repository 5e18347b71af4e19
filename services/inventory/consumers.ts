import {
  OrderCancelledSchema,
  OrderConfirmedSchema,
  OrderCreatedSchema,
  OrderDeliveryFailedSchema,
  OrderPaymentFailedSchema,
  OrderRejectedSchema,
} from "../../gen/shop/events/v1/order_events_pb.js";
import type { EntityManager } from "@mikro-orm/postgresql";
import { type EventContext, PermanentError, requireOrderId } from "../../lib/events/index.js";
import { isUuid } from "../../lib/ids.js";
import { type ConsumerSpec, consume } from "../../lib/runtime/index.js";
import { describeShortages, type Line } from "./domain/stock.js";
import { publishInsufficient, publishLowStock, publishReleased, publishReserved } from "./events.js";
import { lockReservationsAndStock } from "./stock-lock.js";
import * as store from "./stock-store.js";
import { deferStockWrites } from "./stock-write.js";

function linesOf(event: { lines: { productId: string; quantity: number }[] }): Line[] {
  const lines = event.lines.map((l) => ({ productId: l.productId, quantity: l.quantity }));
  if (lines.length === 0 || lines.some((l) => !isUuid(l.productId) || !Number.isInteger(l.quantity) || l.quantity <= 0)) {
    throw new PermanentError("event has no lines, or a line with an invalid product id or quantity");
  }
  return lines;
}

/**
 * The saga steps inventory owns: reserve on order.created, commit on order.confirmed, release on
 * every way out. Each is one request to `applyToReservation`, which decides under the
 * reservation's row lock whatever order the events arrive in; none of them waits for another
 * event by failing and retrying.
 */
export function inventoryConsumers(options: { reservationTtlMs: number }): ConsumerSpec[] {
  /** Publishes what a reservation change means for the rest of the saga. */
  async function announce(em: EntityManager, order: { orderId: string; customerId: string }, result: store.ReservationResult, logger: EventContext["logger"]) {
    switch (result.kind) {
      case "reserved":
        await publishReserved(em, result.reservation);
        await publishLowStock(em, result.lowStock, order.orderId);
        return;
      case "insufficient": {
        const why = result.reservation ? "the order was paid but its stock is gone" : "insufficient stock";
        await publishInsufficient(em, order, result.shortages, `${why}: ${describeShortages(result.shortages) || "no lines"}`);
        return;
      }
      case "released":
        await publishReleased(em, result.reservation, result.lines, result.reason);
        return;
      case "committed":
      case "recorded":
        logger.info(
          { reservation_status: result.reservation.status, release_reason: result.reservation.releaseReason ?? undefined },
          `reservation ${result.kind}`,
        );
        return;
      case "ignored":
        logger.info({ reservation_status: result.reservation?.status, why: result.why }, "reservation unchanged");
        return;
    }
  }

  const releaseOn = (reason: "CANCELLED" | "DELIVERY_FAILED" | "PAYMENT_FAILED" | "REJECTED") =>
    async function handle(event: { orderId: string; customerId: string }, { em, logger }: EventContext) {
      const order = { orderId: requireOrderId(event.orderId), customerId: event.customerId };
      await announce(em, order, await store.applyToReservation(em, order.orderId, { type: "release", reason }), logger);
    };

  // Every batch first reads and locks, in one statement, the reservations of its orders and all
  // the stock its events touch; the handlers then decide on those rows without reading again,
  // and what they decide is written in one statement at the commit. A lone event writes at once,
  // so that an insert that loses to a concurrent one is decided again on the spot.
  const lockFirst = {
    beforeBatch: async (events: { orderId: string; lines?: { productId: string }[] }[], em: EntityManager) => {
      if (events.length > 1) deferStockWrites(em);
      await lockReservationsAndStock(em, {
        orderIds: events.map((event) => event.orderId),
        productIds: events.flatMap((event) => (event.lines ?? []).map((line) => line.productId)),
      });
    },
  };

  return [
    consume(
      OrderCreatedSchema,
      "inventory-reserve",
      async (event, { em, logger }) => {
        const order = { orderId: requireOrderId(event.orderId), customerId: event.customerId };
        const request = { type: "reserve", customerId: order.customerId, lines: linesOf(event), ttlMs: options.reservationTtlMs } as const;
        await announce(em, order, await store.applyToReservation(em, order.orderId, request), logger);
      },
      lockFirst,
    ),

    // order.confirmed carries the lines, so a confirmation that overtook order.created (an order
    // paid through CreatePayment) takes its stock at once instead of waiting for the reservation.
    consume(
      OrderConfirmedSchema,
      "inventory-commit",
      async (event, { em, logger }) => {
        const order = { orderId: requireOrderId(event.orderId), customerId: event.customerId };
        const request = { type: "commit", customerId: order.customerId, lines: linesOf(event) } as const;
        await announce(em, order, await store.applyToReservation(em, order.orderId, request), logger);
      },
      lockFirst,
    ),

    consume(OrderRejectedSchema, "inventory-release-rejected", releaseOn("REJECTED"), lockFirst),
    consume(OrderPaymentFailedSchema, "inventory-release-payment-failed", releaseOn("PAYMENT_FAILED"), lockFirst),
    // Before the commit the reservation goes back; after it the sold units do.
    consume(OrderCancelledSchema, "inventory-release-cancelled", releaseOn("CANCELLED"), lockFirst),
    // The order state machine's compensation for a failed delivery: the units come back.
    consume(OrderDeliveryFailedSchema, "inventory-restock-delivery-failed", releaseOn("DELIVERY_FAILED"), lockFirst),
  ];
}
