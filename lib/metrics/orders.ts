import { Counter } from "prom-client";
import { platformRegistry } from "./registry.js";

const created = new Counter({
  name: "ordermesh_orders_created_total",
  help: "Orders placed (counted at the commit of CreateOrder)",
  registers: [platformRegistry],
});
const confirmed = new Counter({
  name: "ordermesh_orders_confirmed_total",
  help: "Orders CONFIRMED (paid; counted at the commit of the transition)",
  registers: [platformRegistry],
});
const rejected = new Counter({
  name: "ordermesh_orders_rejected_total",
  help: "Orders REJECTED for lack of stock (counted at the commit of the transition)",
  registers: [platformRegistry],
});
const failed = new Counter({
  name: "ordermesh_orders_failed_total",
  help: "Orders that failed, by final status (PAYMENT_FAILED, EXPIRED, DELIVERY_FAILED; counted at the commit)",
  labelNames: ["status"],
  registers: [platformRegistry],
});
const revenue = new Counter({
  name: "ordermesh_order_revenue_minor_total",
  help: "Total of CONFIRMED orders in minor currency units (cents), by ISO currency code",
  labelNames: ["currency"],
  registers: [platformRegistry],
});

for (const status of ["PAYMENT_FAILED", "EXPIRED", "DELIVERY_FAILED"]) failed.inc({ status }, 0);

/** Business counters of the order service. Call them after the transaction that made the change committed. */
export const orderMetrics = {
  created: (count = 1) => created.inc(count),
  confirmed(currency: string, amountMinor: bigint) {
    confirmed.inc();
    // Exact in a double up to 2^53 minor units (90 trillion dollars) per series.
    revenue.inc({ currency }, Number(amountMinor));
  },
  rejected: () => rejected.inc(),
  failed: (status: string) => failed.inc({ status }),
};
