import { create } from "@bufbuild/protobuf";
import {
  CancelOrderRequestSchema,
  CancelOrdersRequestSchema,
  CancelOrdersResponseSchema,
  CreateCustomerRequestSchema,
  CreateOrderRequestSchema,
  CreateOrdersRequestSchema,
  CreateOrdersResponseSchema,
  CustomerSchema,
  GetCustomerRequestSchema,
  ListCustomersRequestSchema,
  ListCustomersResponseSchema,
  UpdateCustomerRequestSchema,
  UpdateOrderStatusRequestSchema,
  GetOrderRequestSchema,
  ListOrdersRequestSchema,
  ListOrdersResponseSchema,
  OrderSchema,
  OrderStatus,
  OrderStatusSchema,
  WatchOrderRequestSchema,
  type WatchOrderResponse,
  WatchOrderResponseSchema,
} from "../../gen/shop/order/v1/order_pb.js";
import { GetInvoiceRequestSchema } from "../../gen/shop/file/v1/file_pb.js";
import { Code, ServiceError } from "../../lib/errors.js";
import { toErrorResponse } from "../errors.js";
import { encodeMessage } from "../json.js";
import { SseStream } from "../sse.js";
import { streamDownload } from "./files.js";
import { DOWNLOAD, eventStream, objectSchema } from "./openapi-fragments.js";
import type { RestContext, Route } from "./router.js";

/** Statuses after which an order never changes again (the upstream ends WatchOrder there). */
export const FINAL_STATUSES: ReadonlySet<OrderStatus> = new Set([
  OrderStatus.REJECTED,
  OrderStatus.PAYMENT_FAILED,
  OrderStatus.CANCELLED,
  OrderStatus.EXPIRED,
  OrderStatus.DELIVERED,
  OrderStatus.DELIVERY_FAILED,
]);

/** "ORDER_STATUS_CONFIRMED": the enum value as protobuf JSON writes it. */
function statusName(status: OrderStatus): string {
  return OrderStatusSchema.values.find((v) => v.number === status)?.name ?? String(status);
}

/**
 * GET /api/v1/orders/{id}/events: the order's status as Server-Sent Events until it reaches a
 * final status. Each event is a WatchOrderResponse as JSON (`{"order": ..., "change": ...}`),
 * the first one the current order; `id` is the number of transitions so far. The stream ends
 * with `event: end`; an upstream failure after the start is `event: error` with the usual error
 * body. A reconnect (Last-Event-ID) to an order that is final and unchanged gets 204, which
 * tells EventSource to stop reconnecting.
 */
async function orderEvents(ctx: RestContext): Promise<"handled"> {
  const { orderId } = ctx.input(WatchOrderRequestSchema, { path: { order_id: ctx.params.id }, body: false });
  const iterator = ctx.api.order.watchOrder(create(WatchOrderRequestSchema, { orderId }), ctx.call)[Symbol.asyncIterator]();
  // Errors up to the first message (unknown order, not the caller's, upstream down) are plain JSON answers.
  const first = await iterator.next();
  if (first.done) throw new ServiceError(Code.UNAVAILABLE, "order tracking ended before it began; retry");
  const lastEventId = ctx.req.headers["last-event-id"];
  const eventId = (m: WatchOrderResponse) => String(m.order?.history.length ?? 0);
  if (lastEventId !== undefined && lastEventId === eventId(first.value) && FINAL_STATUSES.has(first.value.order?.status ?? 0)) {
    await iterator.return?.();
    ctx.res.writeHead(204);
    ctx.res.end();
    return "handled";
  }
  const sse = new SseStream(ctx.req, ctx.res, ctx.call.signal);
  try {
    await sse.open();
    let message: WatchOrderResponse = first.value;
    for (;;) {
      await sse.send({ id: eventId(message), data: JSON.stringify(encodeMessage(WatchOrderResponseSchema, message)) });
      const next = await iterator.next();
      if (next.done) break;
      message = next.value;
    }
    await sse.send({ event: "end", data: JSON.stringify({ order_id: orderId, status: statusName(message.order?.status ?? 0) }) });
  } catch (error) {
    if (!ctx.call.signal.aborted) {
      const answer = toErrorResponse(error, ctx.logger);
      await sse.send({ event: "error", data: JSON.stringify(answer.body) }).catch(() => undefined);
    }
  } finally {
    await iterator.return?.().catch(() => undefined);
    sse.close();
  }
  return "handled";
}

export const orderRoutes: Route[] = [
  {
    method: "POST",
    path: "/api/v1/orders",
    summary: "Place an order (CreateOrder); customer_id defaults to the caller; Idempotency-Key honoured",
    request: CreateOrderRequestSchema,
    response: OrderSchema,
    successStatus: 201,
    async handle(ctx) {
      const request = ctx.input(CreateOrderRequestSchema);
      const { order } = await ctx.api.order.createOrder(request, ctx.call);
      return {
        status: 201,
        json: encodeMessage(OrderSchema, order!),
        headers: { location: `/api/v1/orders/${order!.id}` },
      };
    },
  },
  {
    method: "GET",
    path: "/api/v1/orders",
    summary: "List orders (page_size, page_token, status, customer_id for admins); customers see their own",
    request: ListOrdersRequestSchema,
    queryParams: true,
    response: ListOrdersResponseSchema,
    async handle(ctx) {
      const response = await ctx.api.order.listOrders(ctx.input(ListOrdersRequestSchema, { query: true, body: false }), ctx.call);
      return { json: encodeMessage(ListOrdersResponseSchema, response) };
    },
  },
  {
    method: "POST",
    path: "/api/v1/orders/bulk",
    summary: 'Place up to 100 orders (CreateOrders): {"orders": [...]}; one result per order, in order',
    request: CreateOrdersRequestSchema,
    response: CreateOrdersResponseSchema,
    async handle(ctx) {
      const response = await ctx.api.order.createOrders(ctx.input(CreateOrdersRequestSchema), ctx.call);
      return { json: encodeMessage(CreateOrdersResponseSchema, response) };
    },
  },
  {
    method: "POST",
    path: "/api/v1/orders/bulk/cancel",
    summary: 'Cancel up to 100 orders (CancelOrders): {"order_ids": [...], "reason"}; one result per id',
    request: CancelOrdersRequestSchema,
    response: CancelOrdersResponseSchema,
    async handle(ctx) {
      const response = await ctx.api.order.cancelOrders(ctx.input(CancelOrdersRequestSchema), ctx.call);
      return { json: encodeMessage(CancelOrdersResponseSchema, response) };
    },
  },
  {
    method: "GET",
    path: "/api/v1/orders/:id",
    summary: "One order with its status history",
    request: GetOrderRequestSchema,
    response: OrderSchema,
    async handle(ctx) {
      const { order } = await ctx.api.order.getOrder(ctx.input(GetOrderRequestSchema, { path: { order_id: ctx.params.id }, body: false }), ctx.call);
      return { json: encodeMessage(OrderSchema, order!) };
    },
  },
  {
    method: "GET",
    path: "/api/v1/orders/:id/status",
    summary: "The order's current status only",
    request: GetOrderRequestSchema,
    openapi: {
      content: {
        "application/json": {
          schema: objectSchema({
            order_id: { type: "string" },
            status: { $ref: "#/components/schemas/shop.order.v1.OrderStatus" },
            failure_reason: { type: "string" },
          }),
        },
      },
    },
    async handle(ctx) {
      const { order } = await ctx.api.order.getOrder(ctx.input(GetOrderRequestSchema, { path: { order_id: ctx.params.id }, body: false }), ctx.call);
      return { json: { order_id: order!.id, status: statusName(order!.status), failure_reason: order!.failureReason } };
    },
  },
  {
    method: "PATCH",
    path: "/api/v1/orders/:id/status",
    access: "admin",
    summary: 'Set the status by hand (admin): {"status": "ORDER_STATUS_SHIPPED", "reason"}; only state-machine transitions',
    request: UpdateOrderStatusRequestSchema,
    response: OrderSchema,
    async handle(ctx) {
      const request = ctx.input(UpdateOrderStatusRequestSchema, { path: { order_id: ctx.params.id } });
      const { order } = await ctx.api.order.updateOrderStatus(request, ctx.call);
      return { json: encodeMessage(OrderSchema, order!) };
    },
  },
  {
    method: "PUT",
    path: "/api/v1/orders/:id/cancel",
    summary: 'Cancel an order; optional body {"reason": "..."}',
    request: CancelOrderRequestSchema,
    response: OrderSchema,
    async handle(ctx) {
      const request = ctx.input(CancelOrderRequestSchema, { path: { order_id: ctx.params.id } });
      const { order } = await ctx.api.order.cancelOrder(request, ctx.call);
      return { json: encodeMessage(OrderSchema, order!) };
    },
  },
  {
    method: "GET",
    path: "/api/v1/orders/:id/events",
    stream: true,
    tokenInQuery: true,
    summary: "Server-Sent Events of the order's status until it is final (token also as ?access_token=)",
    request: WatchOrderRequestSchema,
    openapi: eventStream("shop.order.v1.WatchOrderResponse"),
    handle: orderEvents,
  },
  {
    method: "GET",
    path: "/api/v1/orders/:id/invoice",
    summary: "Download the order's invoice PDF (404 until generated)",
    request: GetInvoiceRequestSchema,
    openapi: DOWNLOAD,
    async handle(ctx) {
      const request = ctx.input(GetInvoiceRequestSchema, { path: { order_id: ctx.params.id }, body: false });
      const { file } = await ctx.api.file.getInvoice(request, ctx.call);
      return streamDownload(ctx, file!.id);
    },
  },
  {
    method: "GET",
    path: "/api/v1/customers",
    access: "admin",
    summary: "List customers in id order (admin; page_size, page_token)",
    request: ListCustomersRequestSchema,
    queryParams: true,
    response: ListCustomersResponseSchema,
    async handle(ctx) {
      const response = await ctx.api.order.listCustomers(ctx.input(ListCustomersRequestSchema, { query: true, body: false }), ctx.call);
      return { json: encodeMessage(ListCustomersResponseSchema, response) };
    },
  },
  {
    method: "POST",
    path: "/api/v1/customers",
    summary: "Register a customer: admins any, a customer only themselves (the id is the token's subject)",
    request: CreateCustomerRequestSchema,
    response: CustomerSchema,
    successStatus: 201,
    async handle(ctx) {
      const { customer } = await ctx.api.order.createCustomer(ctx.input(CreateCustomerRequestSchema), ctx.call);
      return { status: 201, json: encodeMessage(CustomerSchema, customer!), headers: { location: `/api/v1/customers/${customer!.id}` } };
    },
  },
  {
    method: "GET",
    path: "/api/v1/customers/:id",
    summary: "One customer (customers: only themselves)",
    request: GetCustomerRequestSchema,
    response: CustomerSchema,
    async handle(ctx) {
      const request = ctx.input(GetCustomerRequestSchema, { path: { customer_id: ctx.params.id }, body: false });
      const { customer } = await ctx.api.order.getCustomer(request, ctx.call);
      return { json: encodeMessage(CustomerSchema, customer!) };
    },
  },
  {
    method: "PATCH",
    path: "/api/v1/customers/:id",
    summary: "Change email, name, phone or address (customers: only themselves)",
    request: UpdateCustomerRequestSchema,
    response: CustomerSchema,
    async handle(ctx) {
      const request = ctx.input(UpdateCustomerRequestSchema, { path: { customer_id: ctx.params.id } });
      const { customer } = await ctx.api.order.updateCustomer(request, ctx.call);
      return { json: encodeMessage(CustomerSchema, customer!) };
    },
  },
];
