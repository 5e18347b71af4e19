import {
  CreateDeliveryRequestSchema,
  DeliverySchema,
  GetDeliveryByOrderRequestSchema,
  GetDeliveryRequestSchema,
  ListDeliveriesRequestSchema,
  ListDeliveriesResponseSchema,
  UpdateDeliveryStatusRequestSchema,
} from "../../gen/shop/delivery/v1/delivery_pb.js";
import { encodeMessage } from "../json.js";
import type { Route } from "./router.js";

export const deliveryRoutes: Route[] = [
  {
    method: "POST",
    path: "/api/v1/deliveries",
    access: "admin",
    summary: "Create the delivery of an order (admin; normally done by the saga)",
    request: CreateDeliveryRequestSchema,
    response: DeliverySchema,
    successStatus: 201,
    async handle(ctx) {
      const { delivery } = await ctx.api.delivery.createDelivery(ctx.input(CreateDeliveryRequestSchema), ctx.call);
      return { status: 201, json: encodeMessage(DeliverySchema, delivery!), headers: { location: `/api/v1/deliveries/${delivery!.id}` } };
    },
  },
  {
    method: "GET",
    path: "/api/v1/deliveries",
    summary: "List deliveries (order_id, status, customer_id for admins, page_size, page_token)",
    request: ListDeliveriesRequestSchema,
    queryParams: true,
    response: ListDeliveriesResponseSchema,
    async handle(ctx) {
      const response = await ctx.api.delivery.listDeliveries(ctx.input(ListDeliveriesRequestSchema, { query: true, body: false }), ctx.call);
      return { json: encodeMessage(ListDeliveriesResponseSchema, response) };
    },
  },
  {
    method: "GET",
    path: "/api/v1/deliveries/:id",
    summary: "One delivery with its tracking log",
    request: GetDeliveryRequestSchema,
    response: DeliverySchema,
    async handle(ctx) {
      const request = ctx.input(GetDeliveryRequestSchema, { path: { delivery_id: ctx.params.id }, body: false });
      const { delivery } = await ctx.api.delivery.getDelivery(request, ctx.call);
      return { json: encodeMessage(DeliverySchema, delivery!) };
    },
  },
  {
    method: "GET",
    path: "/api/v1/deliveries/order/:orderId",
    summary: "The delivery of an order",
    request: GetDeliveryByOrderRequestSchema,
    response: DeliverySchema,
    async handle(ctx) {
      const request = ctx.input(GetDeliveryByOrderRequestSchema, { path: { order_id: ctx.params.orderId }, body: false });
      const { delivery } = await ctx.api.delivery.getDeliveryByOrder(request, ctx.call);
      return { json: encodeMessage(DeliverySchema, delivery!) };
    },
  },
  {
    method: "PATCH",
    path: "/api/v1/deliveries/:id/status",
    access: "admin",
    summary: 'Move a delivery: {"status", "notes", "carrier"?, "tracking_number"?} (admin)',
    request: UpdateDeliveryStatusRequestSchema,
    response: DeliverySchema,
    async handle(ctx) {
      const request = ctx.input(UpdateDeliveryStatusRequestSchema, { path: { delivery_id: ctx.params.id } });
      const { delivery } = await ctx.api.delivery.updateDeliveryStatus(request, ctx.call);
      return { json: encodeMessage(DeliverySchema, delivery!) };
    },
  },
];
