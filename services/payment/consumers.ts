import type { EntityManager } from "@mikro-orm/postgresql";
import { InventoryReservedSchema } from "../../gen/shop/events/v1/inventory_events_pb.js";
import {
  OrderCancelledSchema,
  OrderCreatedSchema,
  OrderDeliveryFailedSchema,
  OrderExpiredSchema,
  OrderRejectedSchema,
} from "../../gen/shop/events/v1/order_events_pb.js";
import { Code } from "../../lib/errors.js";
import { type EventContext, PermanentError, requireOrderId } from "../../lib/events/index.js";
import { isUpstreamFailure } from "../../lib/grpc/index.js";
import { type ConsumerSpec, consume } from "../../lib/runtime/index.js";
import { type Money, moneyProblem } from "../../lib/money.js";
import { tokenOf } from "./card.js";
import { askProvider, outageAnswer } from "./charge.js";
import { chargeStep, givesUpOnProvider, intentAfter, intentStep, isChargeable, onOrderEnded, type SagaOutcome, sagaOutcome, settle } from "./domain/payment.js";
import type { PaymentRow } from "./entities.js";
import { publishCompleted, publishFailed, publishRefunded } from "./events.js";
import { type LockedOrder, lockedNow, lockedOrder, lockOrdersFirst } from "./locked-orders.js";
import * as store from "./payment-store.js";
import type { PaymentProvider } from "./provider/index.js";
import { refundPayment } from "./refund.js";

export interface PaymentConsumerOptions {
  /** The provider behind its breaker and deadline. */
  provider: PaymentProvider;
  /** Handler attempts per event (the lib default is 4); the charge gives up on the last one. */
  maxDeliver: number;
  /** Waits between attempts (lib default 1 s, 2 s, 4 s). */
  backoffMs: number[];
  /** Events handled at once per consumer; per-order order is kept by the order lock. */
  concurrency: number;
}

function requireTotal(total: Money | undefined): { currency: string; amountMinor: bigint } {
  if (!total) throw new PermanentError("order.created has no total");
  const problem = moneyProblem(total, { positive: true });
  if (problem) throw new PermanentError(`order.created has an invalid total: total.${problem.field} ${problem.problem}`);
  return { currency: total.currencyCode, amountMinor: total.amountMinor };
}

/** Publishes the saga's answer for a payment. */
async function publishAnswer(ctx: EventContext, payment: PaymentRow, outcome: SagaOutcome, retryable = false): Promise<void> {
  if (outcome.event === "completed") {
    await publishCompleted(ctx.em, payment);
    ctx.logger.info({ payment_id: payment.id, amount_minor: payment.amountMinor.toString(), currency: payment.currency }, "payment completed");
  } else {
    await publishFailed(ctx.em, payment, outcome.reason, retryable);
    ctx.logger.info({ payment_id: payment.id, reason: outcome.reason, retryable }, "payment failed");
  }
}

/**
 * Every consumer batch first locks all its orders and reads their intents and payments, in one
 * sorted statement each (see locked-orders.ts); the handlers then work from what was read. A
 * batch records its charges in one statement at its commit; a lone event at once.
 */
const lockBatchFirst = {
  beforeBatch: async (events: { orderId: string }[], em: EntityManager) => {
    await lockOrdersFirst(
      em,
      events.map((event) => event.orderId),
    );
    if (events.length > 1) store.deferCharges(em);
  },
};

/**
 * The saga steps payment owns: remember the order's token and total on order.created, charge
 * once when both order.created and inventory.reserved have arrived (whichever is second
 * charges; neither waits for the other by retrying), refund (or make sure nothing is ever charged) when the order is
 * cancelled, expires or is rejected.
 */
export function paymentConsumers(options: PaymentConsumerOptions): ConsumerSpec[] {
  const { provider, maxDeliver } = options;
  const tuning = { maxDeliver, backoffMs: options.backoffMs, concurrency: options.concurrency, ...lockBatchFirst };

  const onOrderEnd = (why: string) =>
    async function handle(event: { orderId: string; customerId: string }, ctx: EventContext): Promise<void> {
      const orderId = requireOrderId(event.orderId);
      const { em, logger } = ctx;
      const order = lockedOrder(em, orderId);
      const { intent, payment } = order;
      const plan = onOrderEnded(
        intent?.status,
        payment && { status: payment.status, amountMinor: payment.amountMinor, refundedMinor: payment.refundedMinor ?? 0n },
      );
      if (plan.refund && payment) {
        // A provider outage is thrown: the refund is retried, and after the last attempt the
        // event waits in the DLQ for a replay. Money owed back is never dropped silently.
        const outcome = await refundPayment(em, provider, payment, undefined, why);
        if (outcome.kind === "rejected") throw new PermanentError(`cannot refund payment ${payment.id}: ${outcome.reason}`);
        await publishRefunded(em, outcome.payment, outcome.refund);
        logger.info({ payment_id: payment.id, refund_id: outcome.refund.id, amount_minor: outcome.refund.amountMinor.toString() }, "payment refunded");
      }
      if (plan.intent === "tombstone") {
        order.intent = await store.writeTombstone(em, orderId, event.customerId);
      } else if (plan.intent === "cancel" && intent) {
        await store.settleIntent(em, orderId, "CANCELLED");
        order.intent = settle(intent, "CANCELLED");
      }
    };

  /**
   * Charges the order of a PENDING intent once and answers the saga. Called with the order
   * locked, from whichever of order.created and inventory.reserved arrives second.
   */
  async function chargeIntent(ctx: EventContext, order: LockedOrder): Promise<void> {
    const { em, logger } = ctx;
    const { orderId, intent, payment: existing } = order;
    if (!intent || !isChargeable(intent.status)) throw new Error(`order ${orderId} has no PENDING payment intent to charge`);
    if (existing) {
      // Charged through CreatePayment before the saga got here: answer with that payment.
      const outcome = sagaOutcome(existing);
      await store.settleIntent(em, orderId, intentAfter(outcome), existing.id);
      order.intent = settle(intent, intentAfter(outcome), existing.id);
      await publishAnswer(ctx, existing, outcome);
      return;
    }
    const input: store.ChargeInput = {
      orderId,
      customerId: intent.customerId,
      amountMinor: intent.amountMinor!,
      currency: intent.currency!,
      token: intent.token ?? undefined,
    };
    let answer: store.ChargeAnswer;
    let retryable = false;
    try {
      // Inside this transaction, holding the order lock: safe because of the charge:<order_id>
      // key (see askProvider), which answers a redelivery after a crash with the same charge.
      answer = await askProvider(provider, input);
    } catch (error) {
      if (!isUpstreamFailure(error) || !givesUpOnProvider(ctx.deliveryCount, maxDeliver)) throw error;
      // Last attempt and the provider is still unreachable: end the saga instead of leaving
      // the order waiting. With a real provider a timed-out call may still have charged; the
      // charge:<order_id> key lets a reconciliation against the provider find and refund it.
      answer = outageAnswer((error as { code?: unknown }).code === Code.DEADLINE_EXCEEDED);
      retryable = true;
      logger.warn({ err: error, attempts: ctx.deliveryCount }, "payment provider unreachable on every attempt; payment failed");
    }
    const outcome = sagaOutcome(answer);
    // The payment and the intent's settlement in one statement.
    const payment = await store.recordCharge(em, input, answer, intentAfter(outcome), lockedNow(em));
    order.payment = payment;
    order.intent = settle(intent, intentAfter(outcome), payment.id);
    await publishAnswer(ctx, payment, outcome, retryable);
  }

  return [
    consume(
      OrderCreatedSchema,
      "payment-record-intent",
      async (event, ctx) => {
        const { em, logger } = ctx;
        const orderId = requireOrderId(event.orderId);
        const total = requireTotal(event.total);
        const token = tokenOf(event.paymentMethod?.token);
        // Serialized with the charge and cancellation handlers: each sees the other's committed row.
        const order = lockedOrder(em, orderId);
        const details = { orderId, customerId: event.customerId, ...total, token };
        switch (intentStep(order.intent?.status)) {
          case "record":
            order.intent = store.recordIntent(em, details);
            if (!token) logger.warn("order.created carries no usable payment token; its charge will fail");
            return;
          case "record-and-charge":
            // inventory.reserved was here first and recorded that; this event completes the step.
            order.intent = await store.completeIntent(em, order.intent!, details);
            logger.info("stock was reserved before order.created arrived; charging now");
            await chargeIntent(ctx, order);
            return;
          case "skip":
            logger.info({ intent_status: order.intent?.status }, "order already has a payment intent (redelivery, or it ended first)");
            return;
        }
      },
      tuning,
    ),

    consume(
      InventoryReservedSchema,
      "payment-charge",
      async (event, ctx) => {
        const orderId = requireOrderId(event.orderId);
        const order = lockedOrder(ctx.em, orderId);
        switch (chargeStep(order.intent?.status)) {
          case "await-order":
            // Events of different subjects are not ordered: order.created (token and total) is
            // still on its way. Record what was seen; order.created charges when it arrives.
            order.intent = await store.awaitOrder(ctx.em, orderId, event.customerId);
            ctx.logger.info("stock reserved before order.created arrived; the charge waits for it");
            return;
          case "skip":
            ctx.logger.info({ intent_status: order.intent?.status }, "payment intent already settled or waiting; nothing to charge");
            return;
          case "charge":
            await chargeIntent(ctx, order);
            return;
        }
      },
      tuning,
    ),

    consume(OrderCancelledSchema, "payment-refund-cancelled", onOrderEnd("order cancelled"), tuning),
    consume(OrderExpiredSchema, "payment-refund-expired", onOrderEnd("order expired"), tuning),
    // The order state machine's compensation for a failed delivery: the whole charge back.
    consume(OrderDeliveryFailedSchema, "payment-refund-delivery-failed", onOrderEnd("delivery failed"), tuning),
    // Rejected orders are never charged; this wipes the token the intent was holding.
    consume(OrderRejectedSchema, "payment-forget-rejected", onOrderEnd("order rejected"), tuning),
  ];
}
