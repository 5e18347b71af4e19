import {
  CreatePaymentRequestSchema,
  GetPaymentRequestSchema,
  ListPaymentsRequestSchema,
  ListPaymentsResponseSchema,
  PaymentSchema,
  RefundPaymentRequestSchema,
  RefundPaymentResponseSchema,
} from "../../gen/shop/payment/v1/payment_pb.js";
import { encodeMessage } from "../json.js";
import type { Route } from "./router.js";

export const paymentRoutes: Route[] = [
  {
    method: "POST",
    path: "/api/v1/payments",
    summary: "Charge an order (CreatePayment; customers: their own orders); Idempotency-Key honoured",
    request: CreatePaymentRequestSchema,
    response: PaymentSchema,
    successStatus: 201,
    async handle(ctx) {
      const { payment } = await ctx.api.payment.createPayment(ctx.input(CreatePaymentRequestSchema), ctx.call);
      return { status: 201, json: encodeMessage(PaymentSchema, payment!), headers: { location: `/api/v1/payments/${payment!.id}` } };
    },
  },
  {
    method: "GET",
    path: "/api/v1/payments",
    summary: "List payments (order_id, customer_id for admins, page_size, page_token)",
    request: ListPaymentsRequestSchema,
    queryParams: true,
    response: ListPaymentsResponseSchema,
    async handle(ctx) {
      const response = await ctx.api.payment.listPayments(ctx.input(ListPaymentsRequestSchema, { query: true, body: false }), ctx.call);
      return { json: encodeMessage(ListPaymentsResponseSchema, response) };
    },
  },
  {
    method: "GET",
    path: "/api/v1/payments/:id",
    summary: "One payment with its refunds",
    request: GetPaymentRequestSchema,
    response: PaymentSchema,
    async handle(ctx) {
      const request = ctx.input(GetPaymentRequestSchema, { path: { payment_id: ctx.params.id }, body: false });
      const { payment } = await ctx.api.payment.getPayment(request, ctx.call);
      return { json: encodeMessage(PaymentSchema, payment!) };
    },
  },
  {
    method: "POST",
    path: "/api/v1/payments/:id/refund",
    access: "admin",
    summary: 'Refund all or part of a payment: {"amount"?, "reason"} (admin)',
    request: RefundPaymentRequestSchema,
    response: RefundPaymentResponseSchema,
    async handle(ctx) {
      const request = ctx.input(RefundPaymentRequestSchema, { path: { payment_id: ctx.params.id } });
      return { json: encodeMessage(RefundPaymentResponseSchema, await ctx.api.payment.refundPayment(request, ctx.call)) };
    },
  },
];
