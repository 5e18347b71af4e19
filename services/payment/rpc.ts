import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { EntityManager, MikroORM } from "@mikro-orm/postgresql";
import { type PaymentSchema, type PaymentService, PaymentStatus, type RefundSchema } from "../../gen/shop/payment/v1/payment_pb.js";
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from "../../lib/errors.js";
import type { ServiceImplementation } from "../../lib/grpc/index.js";
import { decodePageToken, nextPage, pageSize } from "../../lib/paging.js";
import { money, requireMoney } from "../../lib/money.js";
import { requireId } from "../../lib/validate.js";
import { requireToken, tokenFingerprint } from "./card.js";
import { chargeOrder } from "./charge.js";
import { Payment, type PaymentRow, type RefundRow } from "./entities.js";
import { publishRefunded } from "./events.js";
import * as store from "./payment-store.js";
import type { PaymentProvider } from "./provider/index.js";
import { refundPayment } from "./refund.js";

export interface PaymentRpcOptions {
  orm: MikroORM;
  /** The provider behind its breaker and deadline. */
  provider: PaymentProvider;
}

const STATUS: Record<PaymentRow["status"], PaymentStatus> = {
  PENDING: PaymentStatus.PENDING,
  COMPLETED: PaymentStatus.COMPLETED,
  FAILED: PaymentStatus.FAILED,
  REFUNDED: PaymentStatus.REFUNDED,
  PARTIALLY_REFUNDED: PaymentStatus.PARTIALLY_REFUNDED,
};

const MAX_IDEMPOTENCY_KEY = 200;
const MAX_REASON = 500;

function toRefundMessage(refund: RefundRow, currency: string): MessageInitShape<typeof RefundSchema> {
  return {
    id: refund.id,
    paymentId: refund.paymentId,
    amount: money(currency, refund.amountMinor),
    reason: refund.reason ?? "",
    createdAt: timestampFromDate(refund.createdAt),
  };
}

/** Proto view of a payment: never the token or its fingerprint. */
export function toPaymentMessage(payment: PaymentRow, refunds: readonly RefundRow[]): MessageInitShape<typeof PaymentSchema> {
  return {
    id: payment.id,
    orderId: payment.orderId,
    customerId: payment.customerId ?? "",
    amount: money(payment.currency, payment.amountMinor),
    status: STATUS[payment.status],
    cardLast4: payment.cardLast4 ?? "",
    providerReference: payment.providerReference ?? "",
    failureReason: payment.failureReason ?? "",
    refundedAmount: money(payment.currency, payment.refundedMinor ?? 0n),
    refunds: refunds.map((r) => toRefundMessage(r, payment.currency)),
    createdAt: timestampFromDate(payment.createdAt),
    updatedAt: timestampFromDate(payment.updatedAt),
  };
}

/** gRPC handlers of PaymentService: validation and mapping around charge, refund and payment-store. */
export function paymentRpc({ orm, provider }: PaymentRpcOptions): ServiceImplementation<typeof PaymentService> {
  async function withRefunds(em: EntityManager, payments: PaymentRow[]) {
    const refunds = await store.refundsOf(
      em,
      payments.map((p) => p.id),
    );
    return payments.map((p) => toPaymentMessage(p, refunds.get(p.id) ?? []));
  }

  return {
    async createPayment(request) {
      const orderId = requireId("order_id", request.orderId);
      const customerId = requireId("customer_id", request.customerId);
      const amount = requireMoney("amount", request.amount, { positive: true });
      const token = requireToken("payment_method.token", request.paymentMethod?.token);
      if (request.idempotencyKey.length > MAX_IDEMPOTENCY_KEY) {
        throw invalidArgument("idempotency_key", `must be at most ${MAX_IDEMPOTENCY_KEY} characters`);
      }
      const em = orm.em.fork();
      // The order id is the idempotency scope: one payment per order, and the provider key is
      // charge:<order_id>, so a replay (with or without idempotency_key) never charges twice.
      const payment = await em.transactional(async (tx) => {
        await store.lockOrder(tx, orderId);
        const existing = await store.findPaymentOfOrder(tx, orderId, true);
        if (existing) {
          const same =
            existing.customerId === customerId &&
            existing.amountMinor === amount.amountMinor &&
            existing.currency === amount.currencyCode &&
            existing.tokenFingerprint === tokenFingerprint(token);
          if (same) return existing;
          throw alreadyExists(`order ${orderId} already has a ${existing.status} payment for another amount, customer or card`);
        }
        return chargeOrder(tx, provider, { orderId, customerId, amountMinor: amount.amountMinor, currency: amount.currencyCode, token });
      });
      const [message] = await withRefunds(em, [payment]);
      return { payment: message };
    },

    async getPayment(request) {
      const paymentId = requireId("payment_id", request.paymentId);
      const em = orm.em.fork();
      const payment = await em.findOne(Payment, { id: paymentId });
      if (!payment) throw notFound("payment", paymentId);
      const [message] = await withRefunds(em, [payment]);
      return { payment: message };
    },

    async listPayments(request) {
      const size = pageSize(request.pageSize);
      const before = decodePageToken(request.pageToken);
      const em = orm.em.fork();
      // Newest first: UUIDv7 ids sort by creation, so the keyset is simply id < last id.
      const rows = await em.find(
        Payment,
        {
          ...(before ? { id: { $lt: before } } : {}),
          ...(request.orderId ? { orderId: requireId("order_id", request.orderId) } : {}),
          ...(request.customerId ? { customerId: requireId("customer_id", request.customerId) } : {}),
        },
        { orderBy: { id: "desc" }, limit: size + 1 },
      );
      const { page, nextPageToken } = nextPage(rows, size);
      return { payments: await withRefunds(em, page), nextPageToken };
    },

    async refundPayment(request) {
      const paymentId = requireId("payment_id", request.paymentId);
      const requested = request.amount ? requireMoney("amount", request.amount, { positive: true }) : undefined;
      const reason = request.reason.trim().slice(0, MAX_REASON) || "refund requested";
      const found = await orm.em.fork().findOne(Payment, { id: paymentId });
      if (!found) throw notFound("payment", paymentId);
      if (requested && requested.currencyCode !== found.currency) {
        throw invalidArgument("amount.currency_code", `must be ${found.currency}, the payment's currency`);
      }
      const em = orm.em.fork();
      const outcome = await em.transactional(async (tx) => {
        await store.lockOrder(tx, found.orderId);
        const payment = (await store.findPaymentOfOrder(tx, found.orderId, true))!;
        const result = await refundPayment(tx, provider, payment, requested?.amountMinor, reason);
        if (result.kind === "rejected") throw failedPrecondition(result.reason);
        await publishRefunded(tx, result.payment, result.refund);
        return result;
      });
      const [payment] = await withRefunds(em, [outcome.payment]);
      return { payment, refund: toRefundMessage(outcome.refund, outcome.payment.currency) };
    },
  };
}
