import { create } from "@bufbuild/protobuf";
import { type CreateOrderRequest, GetOrderResponseSchema, type Order, type OrderService } from "../../gen/shop/order/v1/order_pb.js";
import { notFound } from "../../lib/errors.js";
import { isUuid } from "../../lib/ids.js";
import type { Principal } from "../auth.js";
import { permissionDenied } from "../errors.js";
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

/**
 * The id a customer registers themselves under: always their token's subject, so one token
 * can create exactly one account, its own (a second attempt is ALREADY_EXISTS). The subject
 * must be a UUID, as customer ids are.
 */
export function selfRegistrationId(principal: Principal, requested: string): string {
  const id = ownerField(principal, "customer_id", requested);
  if (!isUuid(id)) throw permissionDenied("self-registration needs a token whose subject is a UUID (the new customer's id)", "customer_id");
  return id.toLowerCase();
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

    async cancelOrders(request, call) {
      request.customerId = ownerField(call.principal, "customer_id", request.customerId);
      return order.cancelOrders(request, upstreamOptions(call));
    },

    async updateOrderStatus(request, call) {
      requireAdmin(call.principal, "UpdateOrderStatus");
      return order.updateOrderStatus(request, upstreamOptions(call));
    },

    async createCustomer(request, call) {
      if (!call.principal.admin) request.customerId = selfRegistrationId(call.principal, request.customerId);
      return order.createCustomer(request, upstreamOptions(call));
    },

    async getCustomer(request, call) {
      if (!call.principal.admin && request.customerId !== call.principal.sub) throw notFound("customer", request.customerId);
      return order.getCustomer(request, upstreamOptions(call));
    },

    async listCustomers(request, call) {
      requireAdmin(call.principal, "ListCustomers");
      return order.listCustomers(request, upstreamOptions(call));
    },

    async updateCustomer(request, call) {
      if (!call.principal.admin && request.customerId !== call.principal.sub) throw notFound("customer", request.customerId);
      return order.updateCustomer(request, upstreamOptions(call));
    },
  };
}
