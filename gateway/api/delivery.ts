import type { DeliveryService } from "../../gen/shop/delivery/v1/delivery_pb.js";
import { notFound } from "../../lib/errors.js";
import type { Upstreams } from "../upstreams.js";
import { hideUnlessOwner, ownerField, requireAdmin } from "./access.js";
import { type Api, upstreamOptions } from "./types.js";

/** Deliveries: a customer tracks their own; creating and moving deliveries needs admin. */
export function deliveryApi(upstreams: Upstreams): Api<typeof DeliveryService> {
  const delivery = upstreams.delivery;
  return {
    async createDelivery(request, call) {
      requireAdmin(call.principal, "CreateDelivery");
      return delivery.createDelivery(request, upstreamOptions(call));
    },
    async getDelivery(request, call) {
      const response = await delivery.getDelivery(request, upstreamOptions(call));
      if (!response.delivery) throw notFound("delivery", request.deliveryId);
      hideUnlessOwner(call.principal, response.delivery.customerId, "delivery", request.deliveryId);
      return response;
    },
    async getDeliveryByOrder(request, call) {
      const response = await delivery.getDeliveryByOrder(request, upstreamOptions(call));
      // Phrased like the upstream's answer for an unknown order, which it is to this customer.
      if (!response.delivery) throw notFound("delivery of order", request.orderId);
      hideUnlessOwner(call.principal, response.delivery.customerId, "delivery of order", request.orderId);
      return response;
    },
    async updateDeliveryStatus(request, call) {
      requireAdmin(call.principal, "UpdateDeliveryStatus");
      return delivery.updateDeliveryStatus(request, upstreamOptions(call));
    },
    listDeliveries(request, call) {
      request.customerId = ownerField(call.principal, "customer_id", request.customerId);
      return delivery.listDeliveries(request, upstreamOptions(call));
    },
  };
}
