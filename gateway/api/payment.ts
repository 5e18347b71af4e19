import type { PaymentService } from "../../gen/shop/payment/v1/payment_pb.js";
import { notFound } from "../../lib/errors.js";
import type { Upstreams } from "../upstreams.js";
import { hideUnlessOwner, ownerField, requireAdmin } from "./access.js";
import { ownedOrder } from "./order.js";
import { type Api, upstreamOptions } from "./types.js";

/** Payments: a customer pays and reads only for their own orders; refunds need admin. */
export function paymentApi(upstreams: Upstreams): Api<typeof PaymentService> {
  const payment = upstreams.payment;
  return {
    async createPayment(request, call) {
      request.customerId = ownerField(call.principal, "customer_id", request.customerId);
      if (!call.principal.admin) {
        const order = await ownedOrder(upstreams, request.orderId, call);
        // The order's owner pays it; an admin may name any customer.
        request.customerId = order.customerId;
      }
      if (request.idempotencyKey === "" && call.idempotencyKey) request.idempotencyKey = call.idempotencyKey;
      return payment.createPayment(request, upstreamOptions(call));
    },
    async getPayment(request, call) {
      const response = await payment.getPayment(request, upstreamOptions(call));
      if (!response.payment) throw notFound("payment", request.paymentId);
      hideUnlessOwner(call.principal, response.payment.customerId, "payment", request.paymentId);
      return response;
    },
    listPayments(request, call) {
      request.customerId = ownerField(call.principal, "customer_id", request.customerId);
      return payment.listPayments(request, upstreamOptions(call));
    },
    async refundPayment(request, call) {
      requireAdmin(call.principal, "RefundPayment");
      return payment.refundPayment(request, upstreamOptions(call));
    },
  };
}
