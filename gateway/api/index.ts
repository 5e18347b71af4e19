import type { AnalyticsService } from "../../gen/shop/analytics/v1/analytics_pb.js";
import type { DeliveryService } from "../../gen/shop/delivery/v1/delivery_pb.js";
import type { FileService } from "../../gen/shop/file/v1/file_pb.js";
import type { InventoryService } from "../../gen/shop/inventory/v1/inventory_pb.js";
import type { NotificationService } from "../../gen/shop/notification/v1/notification_pb.js";
import type { OrderService } from "../../gen/shop/order/v1/order_pb.js";
import type { PaymentService } from "../../gen/shop/payment/v1/payment_pb.js";
import type { Upstreams } from "../upstreams.js";
import { analyticsApi } from "./analytics.js";
import { deliveryApi } from "./delivery.js";
import { fileApi } from "./file.js";
import { inventoryApi } from "./inventory.js";
import { notificationApi } from "./notification.js";
import { orderApi } from "./order.js";
import { paymentApi } from "./payment.js";
import type { Api } from "./types.js";

export type { Api, Call } from "./types.js";

/** The public API of all seven services, as served by Connect routes and REST routes alike. */
export interface PublicApi {
  order: Api<typeof OrderService>;
  inventory: Api<typeof InventoryService>;
  payment: Api<typeof PaymentService>;
  notification: Api<typeof NotificationService>;
  file: Api<typeof FileService>;
  delivery: Api<typeof DeliveryService>;
  analytics: Api<typeof AnalyticsService>;
}

export function createPublicApi(upstreams: Upstreams): PublicApi {
  return {
    order: orderApi(upstreams),
    inventory: inventoryApi(upstreams),
    payment: paymentApi(upstreams),
    notification: notificationApi(upstreams),
    file: fileApi(upstreams),
    delivery: deliveryApi(upstreams),
    analytics: analyticsApi(upstreams),
  };
}
