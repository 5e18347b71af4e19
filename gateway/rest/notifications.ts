import {
  GetNotificationRequestSchema,
  ListNotificationsRequestSchema,
  ListNotificationsResponseSchema,
  NotificationSchema,
  SendNotificationRequestSchema,
} from "../../gen/shop/notification/v1/notification_pb.js";
import { encodeMessage } from "../json.js";
import type { Route } from "./router.js";

export const notificationRoutes: Route[] = [
  {
    method: "POST",
    path: "/api/v1/notify",
    access: "admin",
    summary: "Send an e-mail or SMS (admin)",
    request: SendNotificationRequestSchema,
    response: NotificationSchema,
    successStatus: 201,
    async handle(ctx) {
      const { notification } = await ctx.api.notification.sendNotification(ctx.input(SendNotificationRequestSchema), ctx.call);
      return {
        status: 201,
        json: encodeMessage(NotificationSchema, notification!),
        headers: { location: `/api/v1/notifications/${notification!.id}` },
      };
    },
  },
  {
    method: "GET",
    path: "/api/v1/notifications",
    summary: "List notifications (order_id, customer_id for admins, page_size, page_token)",
    request: ListNotificationsRequestSchema,
    queryParams: true,
    response: ListNotificationsResponseSchema,
    async handle(ctx) {
      const request = ctx.input(ListNotificationsRequestSchema, { query: true, body: false });
      return { json: encodeMessage(ListNotificationsResponseSchema, await ctx.api.notification.listNotifications(request, ctx.call)) };
    },
  },
  {
    method: "GET",
    path: "/api/v1/notifications/:id",
    summary: "One notification",
    request: GetNotificationRequestSchema,
    response: NotificationSchema,
    async handle(ctx) {
      const request = ctx.input(GetNotificationRequestSchema, { path: { notification_id: ctx.params.id }, body: false });
      const { notification } = await ctx.api.notification.getNotification(request, ctx.call);
      return { json: encodeMessage(NotificationSchema, notification!) };
    },
  },
  {
    method: "GET",
    path: "/api/v1/notifications/order/:orderId",
    summary: "The notifications about an order (page_size, page_token)",
    request: ListNotificationsRequestSchema,
    queryParams: true,
    response: ListNotificationsResponseSchema,
    async handle(ctx) {
      const request = ctx.input(ListNotificationsRequestSchema, { path: { order_id: ctx.params.orderId }, query: true, body: false });
      return { json: encodeMessage(ListNotificationsResponseSchema, await ctx.api.notification.listNotifications(request, ctx.call)) };
    },
  },
];
