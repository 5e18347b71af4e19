import { type MovementJson, type OrderJson, PAID_STATUSES, type PaymentJson, type ProductJson, IN_FLIGHT_STATUSES, minor, shortStatus } from "./model.js";

/** One invariant, checked after a scenario has settled. */
export interface Check {
  name: string;
  pass: boolean;
  detail: string;
}

/** What the checks look at: the scenario's own products, orders and payments, after settling. */
export interface Snapshot {
  products: { product: ProductJson; movements: MovementJson[] }[];
  orders: OrderJson[];
  payments: PaymentJson[];
}

const SHOWN = 5;

function listSome(items: string[]): string {
  return items.length <= SHOWN ? items.join("; ") : `${items.slice(0, SHOWN).join("; ")}; ... (${items.length} in all)`;
}

/** Per product: REPLENISH (initial stock included) + ADJUST movements = available + reserved + sold. */
export function checkStockConservation(snapshot: Snapshot): Check {
  const bad: string[] = [];
  let units = 0;
  for (const { product, movements } of snapshot.products) {
    let supplied = 0;
    for (const m of movements) {
      const type = shortStatus(m.type);
      if (type === "REPLENISH" || type === "ADJUST") supplied += m.quantity;
    }
    const held = product.available + product.reserved + product.sold;
    units += held;
    if (supplied !== held)
      bad.push(`${product.sku}: replenished+adjusted ${supplied} != available ${product.available} + reserved ${product.reserved} + sold ${product.sold}`);
  }
  return {
    name: "stock conserved (initial + replenished + adjusted = available + reserved + sold)",
    pass: bad.length === 0,
    detail: bad.length === 0 ? `${snapshot.products.length} products, ${units} units accounted for` : listSome(bad),
  };
}

/** Nothing is left reserved once every order has settled. */
export function checkNothingReserved(snapshot: Snapshot): Check {
  const bad = snapshot.products.filter(({ product }) => product.reserved !== 0).map(({ product }) => `${product.sku}: reserved ${product.reserved}`);
  return { name: "reserved == 0 after settling", pass: bad.length === 0, detail: bad.length === 0 ? `${snapshot.products.length} products` : listSome(bad) };
}

/** Units sold per product, from the orders that are paid. */
export function paidUnits(orders: readonly OrderJson[]): Map<string, number> {
  const units = new Map<string, number>();
  for (const order of orders) {
    if (!PAID_STATUSES.has(shortStatus(order.status))) continue;
    for (const item of order.items) units.set(item.product_id, (units.get(item.product_id) ?? 0) + item.quantity);
  }
  return units;
}

/** Per product: sold == the units of its paid (CONFIRMED or later) orders. The products must be the scenario's own. */
export function checkSoldMatchesOrders(snapshot: Snapshot): Check {
  const units = paidUnits(snapshot.orders);
  const bad = snapshot.products
    .filter(({ product }) => product.sold !== (units.get(product.id) ?? 0))
    .map(({ product }) => `${product.sku}: sold ${product.sold} != ${units.get(product.id) ?? 0} units in confirmed orders`);
  return {
    name: "sold == units of confirmed orders",
    pass: bad.length === 0,
    detail: bad.length === 0 ? `${snapshot.products.length} products` : listSome(bad),
  };
}

/** A payment that took money (and may have given some back). */
export function isCharge(payment: PaymentJson): boolean {
  const status = shortStatus(payment.status);
  return status === "COMPLETED" || status === "REFUNDED" || status === "PARTIALLY_REFUNDED";
}

/** At most one non-failed payment per order; exactly one charge for each confirmed order. */
export function checkOneChargePerOrder(snapshot: Snapshot): Check {
  const live = new Map<string, number>();
  const charged = new Map<string, number>();
  for (const payment of snapshot.payments) {
    if (shortStatus(payment.status) !== "FAILED") live.set(payment.order_id, (live.get(payment.order_id) ?? 0) + 1);
    if (isCharge(payment)) charged.set(payment.order_id, (charged.get(payment.order_id) ?? 0) + 1);
  }
  const bad: string[] = [];
  for (const [orderId, count] of live) if (count > 1) bad.push(`order ${orderId}: ${count} non-failed payments`);
  for (const order of snapshot.orders) {
    if (PAID_STATUSES.has(shortStatus(order.status)) && charged.get(order.id) !== 1)
      bad.push(`order ${order.id} is ${shortStatus(order.status)} with ${charged.get(order.id) ?? 0} charges`);
  }
  return {
    name: "one charge per order",
    pass: bad.length === 0,
    detail: bad.length === 0 ? `${snapshot.payments.length} payments for ${snapshot.orders.length} orders` : listSome(bad),
  };
}

/** Money: what was charged minus what was refunded equals the totals of the paid orders. */
export function checkMoney(snapshot: Snapshot): Check {
  let charged = 0n;
  let refunded = 0n;
  for (const payment of snapshot.payments) {
    if (!isCharge(payment)) continue;
    charged += minor(payment.amount);
    refunded += minor(payment.refunded_amount);
  }
  let paid = 0n;
  for (const order of snapshot.orders) if (PAID_STATUSES.has(shortStatus(order.status))) paid += minor(order.total);
  const net = charged - refunded;
  return {
    name: "charges - refunds == totals of confirmed orders",
    pass: net === paid,
    detail: `charged ${charged} - refunded ${refunded} = ${net}; confirmed orders total ${paid} (minor units)`,
  };
}

/** Every order has left PENDING / RESERVED. */
export function checkAllSettled(snapshot: Snapshot): Check {
  const counts = statusCounts(snapshot.orders);
  const open = snapshot.orders.filter((o) => IN_FLIGHT_STATUSES.has(shortStatus(o.status)));
  return {
    name: "every order settled (CONFIRMED or final)",
    pass: open.length === 0,
    detail: `${snapshot.orders.length} orders: ${formatCounts(counts)}${open.length ? `; unsettled: ${listSome(open.map((o) => o.id))}` : ""}`,
  };
}

export function statusCounts(orders: readonly OrderJson[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const order of orders) {
    const status = shortStatus(order.status);
    counts[status] = (counts[status] ?? 0) + 1;
  }
  return counts;
}

export function formatCounts(counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? "none" : entries.map(([key, n]) => `${key} ${n}`).join(", ");
}

/** The checks every scenario runs. */
export function commonChecks(snapshot: Snapshot): Check[] {
  return [
    checkStockConservation(snapshot),
    checkNothingReserved(snapshot),
    checkSoldMatchesOrders(snapshot),
    checkOneChargePerOrder(snapshot),
    checkMoney(snapshot),
    checkAllSettled(snapshot),
  ];
}

/** Flash-sale figures: how the race for `units` units among `buyers` buyers ended. */
export interface FlashOutcome {
  buyers: number;
  units: number;
  confirmed: number;
  /** Buyers whose order was REJECTED with a reason. */
  rejected: number;
  /** Buyers without an order whose CreateOrder was refused as sold out (FAILED_PRECONDITION). */
  soldOut: number;
  /** Buyers without a confirmed order and without a clear answer (failed create, other status, no reason). */
  unclear: number;
  sold: number;
  oversold: number;
}

/** A CreateOrder refusal that is an answer: the product is sold out (FAILED_PRECONDITION naming it). */
export function isSoldOutRefusal(error: { code: string; message: string }): boolean {
  return error.code === "failed_precondition" && /is sold out/.test(error.message);
}

/**
 * The race's outcome from the flash product, the buyers' orders and `soldOut`, the buyers whose
 * CreateOrder was refused as sold out. A buyer has a clear answer when confirmed, when every
 * order of theirs was REJECTED with a reason, or when they have no order and were told sold out.
 */
export function flashOutcome(options: {
  buyers: number;
  units: number;
  product: ProductJson;
  orders: readonly OrderJson[];
  soldOut?: ReadonlySet<string>;
}): FlashOutcome {
  const byCustomer = new Map<string, OrderJson[]>();
  for (const order of options.orders) byCustomer.set(order.customer_id, [...(byCustomer.get(order.customer_id) ?? []), order]);
  let confirmed = 0;
  let rejected = 0;
  for (const orders of byCustomer.values()) {
    if (orders.some((o) => PAID_STATUSES.has(shortStatus(o.status)))) confirmed++;
    else if (orders.every((o) => shortStatus(o.status) === "REJECTED" && o.failure_reason.trim() !== "")) rejected++;
  }
  let soldOut = 0;
  for (const customerId of options.soldOut ?? []) if (!byCustomer.has(customerId)) soldOut++;
  const sold = options.product.sold;
  return {
    buyers: options.buyers,
    units: options.units,
    confirmed,
    rejected,
    soldOut,
    unclear: options.buyers - confirmed - rejected - soldOut,
    sold,
    oversold: Math.max(0, sold - options.units),
  };
}

/** The flash-sale checks: exactly `units` confirmed, none oversold, everyone else clearly rejected or refused. */
export function flashChecks(outcome: FlashOutcome, expectedConfirmed: number): Check[] {
  return [
    {
      name: `confirmed == ${expectedConfirmed}`,
      pass: outcome.confirmed === expectedConfirmed,
      detail: `${outcome.confirmed} buyers confirmed`,
    },
    {
      name: "sold == confirmed, oversold == 0",
      pass: outcome.sold === outcome.confirmed && outcome.oversold === 0,
      detail: `sold ${outcome.sold} of ${outcome.units} units, oversold ${outcome.oversold}`,
    },
    {
      name: "every other buyer clearly rejected (REJECTED with a reason, or refused as sold out)",
      pass: outcome.unclear === 0 && outcome.rejected + outcome.soldOut === outcome.buyers - outcome.confirmed,
      detail: `${outcome.rejected} REJECTED with a reason, ${outcome.soldOut} refused as sold out, ${outcome.unclear} without a clear answer`,
    },
  ];
}
