import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type CustomerSchema, type OrderSchema, type OrderService, OrderStatus, type OrderStatusChangeSchema } from "../../gen/shop/order/v1/order_pb.js";
import type { Database } from "../../lib/db/index.js";
import { Code, invalidArgument, notFound, ServiceError } from "../../lib/errors.js";
import { INTERNAL_MESSAGE, type ServiceImplementation } from "../../lib/grpc/index.js";
import { money } from "../../lib/money.js";
import { decodePageToken, nextPage, pageSize } from "../../lib/paging.js";
import { requireId } from "../../lib/validate.js";
import type { Catalog } from "./catalog.js";
import { CustomerContacts } from "./customer-contacts.js";
import { createCustomer, listCustomers, updateCustomer } from "./customers.js";
import { OPERATOR_STATUSES, type OrderStatus as Status } from "./domain/order-status.js";
import { Customer, type CustomerRow, type OrderStatusHistoryRow } from "./entities.js";
import { type OrderView, listOrders, loadOrder } from "./order-store.js";
import type { SagaBacklog } from "./backlog.js";
import { cancelOrder, placeOrder, setOrderStatus } from "./orders.js";
import { optionalReason } from "./validate.js";
import { type StatusNotifier, watchOrder } from "./watch.js";

export interface OrderRpcOptions {
  orm: Database;
  catalog: Catalog;
  notifier: StatusNotifier;
  /** Fallback poll of WatchOrder streams, for changes whose notification was missed. */
  watchPollMs: number;
  /** Sheds CreateOrder(s) while sagas are behind; none admits everything. */
  backlog?: Pick<SagaBacklog, "admit">;
}

/** Orders placed (or cancelled) at once by one bulk call. */
const CREATE_ORDERS_CONCURRENCY = 4;
const MAX_BULK_ORDERS = 100;

function statusValue(status: Status): OrderStatus {
  return OrderStatus[status];
}

function toChange(change: OrderStatusHistoryRow): MessageInitShape<typeof OrderStatusChangeSchema> {
  return {
    fromStatus: change.fromStatus ? statusValue(change.fromStatus) : OrderStatus.UNSPECIFIED,
    toStatus: statusValue(change.toStatus),
    reason: change.reason,
    eventId: change.eventId ?? "",
    changedAt: timestampFromDate(new Date(change.changedAt)),
  };
}

/** Proto view of an order. */
export function toOrderMessage({ order, items, history }: OrderView): MessageInitShape<typeof OrderSchema> {
  const amount = (amountMinor: bigint) => money(order.currencyCode, amountMinor);
  return {
    id: order.id,
    customerId: order.customerId,
    status: statusValue(order.status),
    items: items.map((item) => ({
      productId: item.productId,
      quantity: item.quantity,
      unitPrice: amount(item.unitPriceMinor),
      productName: item.productName,
      lineTotal: amount(item.lineTotalMinor),
    })),
    total: amount(order.totalMinor),
    shippingAddress: order.shippingAddress,
    cardLast4: order.cardLast4,
    failureReason: order.failureReason,
    createdAt: timestampFromDate(new Date(order.createdAt)),
    updatedAt: timestampFromDate(new Date(order.updatedAt)),
    history: history.map(toChange),
  };
}

function toCustomerMessage(customer: CustomerRow): MessageInitShape<typeof CustomerSchema> {
  return {
    id: customer.id,
    email: customer.email,
    name: customer.name,
    phone: customer.phone,
    address: customer.address ?? undefined,
    createdAt: timestampFromDate(new Date(customer.createdAt)),
    updatedAt: timestampFromDate(new Date(customer.updatedAt)),
  };
}

function statusFilter(value: OrderStatus): Status | undefined {
  if (value === OrderStatus.UNSPECIFIED) return undefined;
  const name = OrderStatus[value] as Status | undefined;
  if (!name) throw invalidArgument("status", `is not an order status: ${value}`);
  return name;
}

/** The status an operator asked for: one of OPERATOR_STATUSES, else INVALID_ARGUMENT. */
function operatorStatus(value: OrderStatus): Status {
  const name = statusFilter(value);
  if (!name) throw invalidArgument("status", "is required: SHIPPED, DELIVERED, DELIVERY_FAILED or CANCELLED");
  if (!OPERATOR_STATUSES.has(name))
    throw invalidArgument("status", `${name} is set only by the order saga; use SHIPPED, DELIVERED, DELIVERY_FAILED or CANCELLED`);
  return name;
}

/** The ids of a CancelOrders call: 1 to 100, distinct, each a UUID. */
function bulkOrderIds(ids: readonly string[]): string[] {
  if (ids.length === 0) throw invalidArgument("order_ids", "must contain at least one order id");
  if (ids.length > MAX_BULK_ORDERS) throw invalidArgument("order_ids", `must contain at most ${MAX_BULK_ORDERS} order ids`);
  const seen = new Map<string, number>();
  return ids.map((raw, i) => {
    const id = requireId(`order_ids[${i}]`, raw);
    const first = seen.get(id);
    if (first !== undefined) throw invalidArgument(`order_ids[${i}]`, `duplicates order_ids[${first}]`);
    seen.set(id, i);
    return id;
  });
}

/** A bulk item's error as a result: service errors as they are, anything else INTERNAL (and logged). */
function bulkError(error: unknown, logger: { error(obj: object, msg: string): void }, index: number) {
  if (error instanceof ServiceError) return { code: error.code, message: error.message };
  logger.error({ err: error, index }, "one item of a bulk request failed");
  return { code: Code.INTERNAL, message: INTERNAL_MESSAGE };
}

/** Runs `work` over `inputs` with at most `limit` at once; results in input order. */
async function mapLimit<T, R>(inputs: readonly T[], limit: number, work: (input: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(inputs.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, inputs.length) }, async () => {
    while (next < inputs.length) {
      const index = next++;
      results[index] = await work(inputs[index], index);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** gRPC handlers of OrderService: validation and mapping around orders.ts and order-store. */
export function orderRpc({ orm, catalog, notifier, watchPollMs, backlog }: OrderRpcOptions): ServiceImplementation<typeof OrderService> {
  const deps = { orm, catalog, contacts: new CustomerContacts() };

  return {
    async createOrder(request, ctx) {
      // Shed after the refusals the catalog answers (a sold-out product is answered as such even
      // while sagas are behind) and before any database work.
      const view = await placeOrder(deps, request, ctx, { admit: () => backlog?.admit() });
      return { order: toOrderMessage(view) };
    },

    async getOrder(request) {
      const orderId = requireId("order_id", request.orderId);
      const view = await loadOrder(orm.em.fork(), orderId);
      if (!view) throw notFound("order", orderId);
      return { order: toOrderMessage(view) };
    },

    async listOrders(request) {
      const size = pageSize(request.pageSize);
      const beforeId = decodePageToken(request.pageToken);
      const customerId = request.customerId ? requireId("customer_id", request.customerId) : undefined;
      const status = statusFilter(request.status);
      const rows = await listOrders(orm.em.fork(), { customerId, status, beforeId }, size + 1);
      const { page, nextPageToken } = nextPage(
        rows.map((view) => ({ id: view.order.id, view })),
        size,
      );
      return { orders: page.map((row) => toOrderMessage(row.view)), nextPageToken };
    },

    async cancelOrder(request) {
      const orderId = requireId("order_id", request.orderId);
      const reason = optionalReason("reason", request.reason);
      return { order: toOrderMessage(await cancelOrder(deps, orderId, reason)) };
    },

    async *watchOrder(request, ctx) {
      const orderId = requireId("order_id", request.orderId);
      for await (const update of watchOrder({ orm, notifier, pollMs: watchPollMs }, orderId, ctx.signal)) {
        yield { order: toOrderMessage(update.view), change: update.change ? toChange(update.change) : undefined };
      }
    },

    async createOrders(request, ctx) {
      if (request.orders.length === 0) throw invalidArgument("orders", "must contain at least one order");
      if (request.orders.length > MAX_BULK_ORDERS) throw invalidArgument("orders", `must contain at most ${MAX_BULK_ORDERS} orders`);
      backlog?.admit();
      const results = await mapLimit(request.orders, CREATE_ORDERS_CONCURRENCY, async (order, index) => {
        try {
          const view = await placeOrder(deps, order, ctx);
          return { result: { case: "order" as const, value: toOrderMessage(view) } };
        } catch (error) {
          return { result: { case: "error" as const, value: bulkError(error, ctx.logger, index) } };
        }
      });
      return { results };
    },

    async updateOrderStatus(request) {
      const orderId = requireId("order_id", request.orderId);
      const status = operatorStatus(request.status);
      const reason = optionalReason("reason", request.reason);
      return { order: toOrderMessage(await setOrderStatus(deps, orderId, status, reason)) };
    },

    async cancelOrders(request, ctx) {
      const ids = bulkOrderIds(request.orderIds);
      const reason = optionalReason("reason", request.reason);
      const customerId = request.customerId ? requireId("customer_id", request.customerId) : undefined;
      const results = await mapLimit(ids, CREATE_ORDERS_CONCURRENCY, async (orderId, index) => {
        try {
          return { orderId, result: { case: "order" as const, value: toOrderMessage(await cancelOrder(deps, orderId, reason, customerId)) } };
        } catch (error) {
          return { orderId, result: { case: "error" as const, value: bulkError(error, ctx.logger, index) } };
        }
      });
      return { results };
    },

    async createCustomer(request) {
      return { customer: toCustomerMessage(await createCustomer(orm, request)) };
    },

    async getCustomer(request) {
      const customerId = requireId("customer_id", request.customerId);
      const customer = await orm.em.fork().findOne(Customer, { id: customerId });
      if (!customer) throw notFound("customer", customerId);
      return { customer: toCustomerMessage(customer) };
    },

    async listCustomers(request) {
      const { page, nextPageToken } = await listCustomers(orm, request);
      return { customers: page.map(toCustomerMessage), nextPageToken };
    },

    async updateCustomer(request) {
      return { customer: toCustomerMessage(await updateCustomer(orm, request)) };
    },
  };
}
