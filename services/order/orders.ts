import type { EntityManager } from "@mikro-orm/postgresql";
import type { CreateOrderRequest } from "../../gen/shop/order/v1/order_pb.js";
import type { Database } from "../../lib/db/index.js";
import { alreadyExists, Code, failedPrecondition, invalidArgument, notFound, ServiceError } from "../../lib/errors.js";
import { kickRelays } from "../../lib/events/index.js";
import { uuidv7 } from "../../lib/ids.js";
import { runForOrder } from "../../lib/telemetry/index.js";
import type { Logger } from "../../lib/log.js";
import type { Catalog } from "./catalog.js";
import type { OrderInput, OrderStatus } from "./domain/order-status.js";
import { type PricedOrder, type PricingProblem, priceOrder } from "./domain/pricing.js";
import { findSoldOut, type SoldOutLine } from "./domain/sold-out.js";
import { type CustomerContacts, sameContact } from "./customer-contacts.js";
import { createdEvent } from "./events.js";
import { countCreated } from "./metrics.js";
import { applyInput, type InputEffect, type InputSource, lockBatch, lockedOrder } from "./order-batch.js";
import * as store from "./order-store.js";
import { type PlaceOrderCommand, parseCreateOrder, requestHash } from "./validate.js";

/** The order use cases shared by the RPC handlers and the event consumers. */

export interface OrderDeps {
  orm: Database;
  catalog: Catalog;
  /** Customers' contact details as the last order read them (checked again by each order's statement). */
  contacts: CustomerContacts;
}

/** What CreateOrder knows about its call: cancellation and deadline, passed on to inventory. */
export interface CallInfo {
  signal?: AbortSignal;
  deadline?: Date;
  logger?: Logger;
}

function pricingError(problem: PricingProblem): ServiceError {
  switch (problem.kind) {
    case "missing":
      return new ServiceError(
        Code.NOT_FOUND,
        `items[${problem.index}].product_id: product ${problem.productId} not found`,
        `items[${problem.index}].product_id`,
      );
    case "not_orderable":
      return new ServiceError(
        Code.FAILED_PRECONDITION,
        `items[${problem.index}].product_id: product ${problem.productId} is ${problem.status} and cannot be ordered`,
        `items[${problem.index}].product_id`,
      );
    case "currency_mismatch":
      return invalidArgument(
        `items[${problem.index}].product_id`,
        `product ${problem.productId} is priced in ${problem.actual}, but the order is in ${problem.expected}`,
      );
    case "invalid_price":
      return failedPrecondition(`items[${problem.index}].product_id: product ${problem.productId} has no valid price`);
    case "too_large":
      return invalidArgument("items", "the order total is too large");
  }
}

/** FAILED_PRECONDITION naming each sold-out line and its product. */
function soldOutError(soldOut: readonly SoldOutLine[]): ServiceError {
  const field = `items[${soldOut[0].index}].product_id`;
  const message = soldOut.map((line) => `items[${line.index}].product_id: product ${line.productId} is sold out`).join("; ");
  return new ServiceError(Code.FAILED_PRECONDITION, message, field);
}

/**
 * CreateOrder: validates, prices the lines from the catalog (its cache, else inventory's
 * BatchGetProducts through the breaker), refuses at once (FAILED_PRECONDITION) a line whose
 * product the catalog says is sold out, then stores the key, the order, its items, its first
 * history row and the order.created event, with the customer's contact details, in one statement.
 * Stock is not reserved here: inventory reserves asynchronously and rejects what it cannot fill.
 * A key that is already taken answers with its order (ALREADY_EXISTS for a different request).
 * One round trip to the database for a customer who ordered before (`deps.contacts`, which that
 * statement checks against the customer's row); a first order, or one after the customer
 * changed, reads the customer first.
 *
 * `admit` (the saga backlog's shedding) runs after the refusals the catalog answers and before
 * any database work, so a shed request costs no more than its validation and a catalog cache
 * lookup, and a sold-out product is still answered as such while new orders are shed.
 */
export async function placeOrder(
  deps: OrderDeps,
  request: CreateOrderRequest,
  call: CallInfo = {},
  options: { admit?: () => void } = {},
): Promise<store.OrderView> {
  const command = parseCreateOrder(request);
  const hash = requestHash(command);
  // A key used before still answers with its order, as long as the request is the same.
  const refuse = async (error: ServiceError) => {
    const replay = command.idempotencyKey ? await replayOf(deps, command, hash) : undefined;
    if (replay) return replay;
    throw error;
  };

  // The id is made before the catalog call, so that call, the spans and the events all carry it.
  const orderId = uuidv7();
  return runForOrder(orderId, async () => {
    const catalog = await deps.catalog.products(
      command.items.map((i) => i.productId),
      call,
    );
    const pricing = priceOrder(command.items, catalog, command.currencyCode);
    if (!pricing.ok) return refuse(pricingError(pricing.problem));
    // A retry of an order placed before the product sold out still gets its order.
    const soldOut = findSoldOut(command.items, catalog);
    if (soldOut.length > 0) return refuse(soldOutError(soldOut));
    options.admit?.();
    const priced: PricedOrder = pricing.order;

    const em = deps.orm.em.fork();
    let contact = deps.contacts.get(command.customerId) ?? (await store.findCustomer(em, command.customerId));
    let placed: store.OrderView | undefined;
    for (let attempt = 1; ; attempt++) {
      if (!contact) {
        deps.contacts.forget(command.customerId);
        return refuse(notFound("customer", command.customerId));
      }
      deps.contacts.remember(contact);
      placed = await store.insertPlacedOrder(em, {
        id: orderId,
        customerId: command.customerId,
        shippingAddress: command.shippingAddress,
        priced,
        key: command.idempotencyKey ? { key: command.idempotencyKey, requestHash: hash } : undefined,
        contact,
        created: createdEvent({ id: orderId, customer: contact, shippingAddress: command.shippingAddress, priced, paymentToken: command.paymentToken }),
      });
      if (placed) break;
      // Nothing stored: the customer changed since we remembered them (try again as they are
      // now), or the key is taken: by an earlier order (a retry), or by a concurrent request that
      // committed first.
      const current = await store.findCustomer(em, command.customerId);
      if (current && sameContact(current, contact) && command.idempotencyKey) {
        const replay = await replayOf(deps, command, hash);
        if (replay) return replay;
        throw new Error(`idempotency key of customer ${command.customerId} is taken but has no order`);
      }
      // Only a customer changed again between each read and each insert gets here a third time.
      if (attempt === 3) throw new ServiceError(Code.ABORTED, `customer ${command.customerId} kept changing while the order was stored; retry`);
      contact = current;
    }
    countCreated(em); // the statement has committed: counted at once
    // One statement outside a transaction: enqueue's wake-up at commit does not apply here.
    kickRelays(deps.orm);
    call.logger?.info({ order_id: orderId, total_minor: priced.totalMinor.toString(), lines: priced.lines.length }, "order placed");
    return placed;
  });
}

/** The order placed earlier with the command's idempotency key, or undefined; ALREADY_EXISTS for another request. */
async function replayOf(deps: OrderDeps, command: PlaceOrderCommand, hash: string): Promise<store.OrderView | undefined> {
  const em = deps.orm.em.fork();
  const existing = await store.findIdempotencyKey(em, command.customerId, command.idempotencyKey!);
  if (!existing) return undefined;
  if (existing.requestHash !== hash) {
    throw alreadyExists(`idempotency_key ${JSON.stringify(command.idempotencyKey)} was already used for a different request`);
  }
  return requireOrder(em, existing.orderId);
}

async function requireOrder(em: EntityManager, orderId: string): Promise<store.OrderView> {
  const view = await store.loadOrder(em, orderId);
  if (!view) throw notFound("order", orderId);
  return view;
}

/**
 * CancelOrder: PENDING, RESERVED or CONFIRMED become CANCELLED (with history and
 * order.cancelled, was_charged when it was CONFIRMED); an already CANCELLED order is returned
 * as it is; any other status is FAILED_PRECONDITION. With `customerId`, another customer's
 * order is NOT_FOUND (CancelOrders on behalf of a customer).
 */
export async function cancelOrder(deps: OrderDeps, orderId: string, reason: string, customerId?: string): Promise<store.OrderView> {
  return changeStatus(deps, orderId, { type: "cancel", reason }, customerId);
}

/**
 * UpdateOrderStatus: an operator moves the order to `to`, if the state machine allows it
 * (with history and the status's order event, exactly as the saga would); setting the status
 * it already has returns the order unchanged.
 */
export async function setOrderStatus(deps: OrderDeps, orderId: string, to: OrderStatus, reason: string): Promise<store.OrderView> {
  return changeStatus(deps, orderId, { type: "operator.set_status", to, reason });
}

/** Applies a command under the order's row lock; a refusal is FAILED_PRECONDITION. */
async function changeStatus(deps: OrderDeps, orderId: string, input: OrderInput, customerId?: string): Promise<store.OrderView> {
  await deps.orm.em.fork().transactional(async (em) => {
    await lockBatch(em, [orderId]);
    const order = lockedOrder(em, orderId);
    if (!order || (customerId !== undefined && order.customerId !== customerId)) throw notFound("order", orderId);
    const effect = applyInput(em, order, input, { eventId: null });
    if (effect.kind === "refused") throw failedPrecondition(effect.why);
  });
  return requireOrder(deps.orm.em.fork(), orderId);
}

/** What an event did to its order. */
export type EventEffect = Exclude<InputEffect, { kind: "refused" }>;

/**
 * Applies a saga event to its order, locked by the consumer's beforeBatch (lockBatch), inside
 * the consumer's transaction: the state machine decides, and a transition's order update,
 * history row (with the event id) and order event are written at commit. An unknown order is
 * retried (plain Error) and dead-lettered after the last delivery: other services only learn of
 * an order from order.created, which is published after the order commits, so this means a bug
 * or a foreign event, and retrying a few times first costs little.
 */
export function applyEvent(em: EntityManager, orderId: string, input: OrderInput, source: InputSource & { eventId: string }): EventEffect {
  const order = lockedOrder(em, orderId);
  if (!order) throw new Error(`order ${orderId} not found; retrying in case it is not committed yet`);
  const effect = applyInput(em, order, input, source);
  // Saga events are never refused: the state machine ignores what does not apply.
  if (effect.kind === "refused") throw new Error(`order ${orderId}: ${input.type} was refused: ${effect.why}`);
  return effect;
}
