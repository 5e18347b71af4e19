import type { NotificationService } from "../../gen/shop/notification/v1/notification_pb.js";
import { notFound } from "../../lib/errors.js";
import type { Upstreams } from "../upstreams.js";
import { hideUnlessOwner, ownerField, requireAdmin } from "./access.js";
import { type Api, upstreamOptions } from "./types.js";

/** Notifications: a customer reads their own; sending ad-hoc messages needs admin. */
export function notificationApi(upstreams: Upstreams): Api<typeof NotificationService> {
  const notification = upstreams.notification;
  return {
    async sendNotification(request, call) {
      requireAdmin(call.principal, "SendNotification");
      return notification.sendNotification(request, upstreamOptions(call));
    },
    async getNotification(request, call) {
      const response = await notification.getNotification(request, upstreamOptions(call));
      if (!response.notification) throw notFound("notification", request.notificationId);
      hideUnlessOwner(call.principal, response.notification.customerId, "notification", request.notificationId);
      return response;
    },
    listNotifications(request, call) {
      request.customerId = ownerField(call.principal, "customer_id", request.customerId);
      return notification.listNotifications(request, upstreamOptions(call));
    },
  };
}
