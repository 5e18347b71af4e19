import { create } from "@bufbuild/protobuf";
import { type CreateOrderRequest, GetOrderResponseSchema, type Order, type OrderService } from "../../gen/shop/order/v1/order_pb.js";
import { notFound } from "../../lib/errors.js";
import type { Upstreams } from "../upstreams.js";
import { hideUnlessOwner, ownerField, requireAdmin } from "./access.js";
import { type Api, type Call, upstreamOptions } from "./types.js";

/** Fetches an order the principal may see; another customer's order is NOT_FOUND. */
export async function ownedOrder(upstreams: Upstreams, orderId: string, call: Call): Promise<Order> {
  const { order } = await upstreams.order.getOrder({ orderId }, upstreamOptions(call));
  if (!order) throw notFound("order", orderId);
  hideUnlessOwner(call.principal, order.customerId, "order", orderId);
  return order;
}

export function orderApi(upstreams: Upstreams): Api<typeof OrderService> {
  const order = upstreams.order;

  function prepareCreate(request: CreateOrderRequest, call: Call, field = "customer_id"): CreateOrderRequest {
    request.customerId = ownerField(call.principal, field, request.customerId);
    if (request.idempotencyKey === "" && call.idempotencyKey) request.idempotencyKey = call.idempotencyKey;
    return request;
  }

  return {
    createOrder: (request, call) => order.createOrder(prepareCreate(request, call), upstreamOptions(call)),

    createOrders(request, call) {
      request.orders.forEach((o, i) => {
        o.customerId = ownerField(call.principal, `orders[${i}].customer_id`, o.customerId);
      });
      return order.createOrders(request, upstreamOptions(call));
    },

    async getOrder(request, call) {
      return create(GetOrderResponseSchema, { order: await ownedOrder(upstreams, request.orderId, call) });
    },

    listOrders(request, call) {
      request.customerId = ownerField(call.principal, "customer_id", request.customerId);
      return order.listOrders(request, upstreamOptions(call));
    },

    async cancelOrder(request, call) {
      if (!call.principal.admin) await ownedOrder(upstreams, request.orderId, call);
      return order.cancelOrder(request, upstreamOptions(call));
    },

    async *watchOrder(request, call) {
      let checked = false;
      // The first message is the current order: its owner decides before anything is sent on.
      for await (const message of order.watchOrder(request, upstreamOptions(call))) {
        if (!checked) {
          hideUnlessOwner(call.principal, message.order?.customerId, "order", request.orderId);
          checked = true;
        }
        yield message;
      }
    },

    createCustomer(request, call) {
      requireAdmin(call.principal, "CreateCustomer");
      return order.createCustomer(request, upstreamOptions(call));
    },

    async getCustomer(request, call) {
      if (!call.principal.admin && request.customerId !== call.principal.sub) throw notFound("customer", request.customerId);
      return order.getCustomer(request, upstreamOptions(call));
    },
  };
}
