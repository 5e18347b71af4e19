import { describe, expect, it } from "@jest/globals";
import { LatencyHistogram } from "./histogram.js";
import {
  checkAllSettled,
  checkMoney,
  checkNothingReserved,
  checkOneChargePerOrder,
  checkSoldMatchesOrders,
  checkStockConservation,
  flashChecks,
  flashOutcome,
  isSoldOutRefusal,
  type Snapshot,
} from "./invariants.js";
import type { OrderJson, PaymentJson, ProductJson } from "./model.js";
import { formatTable, resourceRows, summaryRows, type ScenarioResult } from "./report.js";
import { processUsage } from "./resources.js";
import { sagaTimings } from "./saga.js";
import { packageOf } from "./cpuprofile.js";
import { followUpProblems } from "./scenarios/chaos.js";

function order(id: string, status: string, options: Partial<OrderJson> = {}): OrderJson {
  return {
    id,
    customer_id: options.customer_id ?? `c-${id}`,
    status: `ORDER_STATUS_${status}`,
    items: options.items ?? [{ product_id: "p1", quantity: 1 }],
    total: options.total ?? { currency_code: "EUR", amount_minor: "1000" },
    failure_reason: options.failure_reason ?? "",
    created_at: options.created_at,
    history: options.history ?? [],
  };
}

function payment(orderId: string, status: string, amount = "1000", refunded = "0"): PaymentJson {
  return {
    id: `pay-${orderId}-${status}`,
    order_id: orderId,
    customer_id: "c",
    status: `PAYMENT_STATUS_${status}`,
    amount: { currency_code: "EUR", amount_minor: amount },
    refunded_amount: { currency_code: "EUR", amount_minor: refunded },
  };
}

const product = (sold: number, extra: Partial<ProductJson> = {}): ProductJson => ({
  id: "p1",
  sku: "SKU-1",
  available: 10 - sold,
  reserved: 0,
  sold,
  ...extra,
});

describe("LatencyHistogram", () => {
  it("reports percentiles of recorded milliseconds within HDR precision", () => {
    const h = new LatencyHistogram();
    for (let ms = 1; ms <= 100; ms++) h.record(ms);
    const s = h.summary();
    expect(s.count).toBe(100);
    expect(s.p50).toBeCloseTo(50, 0);
    expect(s.p99).toBeCloseTo(99, 0);
    expect(s.max).toBeCloseTo(100, 0);
    expect(typeof h.encode()).toBe("string");
  });

  it("is all zeros when empty", () => {
    expect(new LatencyHistogram().summary()).toEqual({ count: 0, mean: 0, p50: 0, p95: 0, p99: 0, max: 0 });
  });
});

describe("invariants", () => {
  const movements = [{ product_id: "p1", order_id: "", type: "MOVEMENT_TYPE_REPLENISH", quantity: 10 }];

  it("passes for a conserved product whose sales match the confirmed orders and charges", () => {
    const snapshot: Snapshot = {
      products: [{ product: product(2), movements: [...movements, { product_id: "p1", order_id: "o1", type: "MOVEMENT_TYPE_RESERVE", quantity: 1 }] }],
      orders: [order("o1", "CONFIRMED"), order("o2", "CONFIRMED"), order("o3", "REJECTED", { failure_reason: "insufficient stock" })],
      payments: [payment("o1", "COMPLETED"), payment("o2", "COMPLETED"), payment("o3", "FAILED")],
    };
    for (const check of [checkStockConservation, checkNothingReserved, checkSoldMatchesOrders, checkOneChargePerOrder, checkMoney, checkAllSettled]) {
      expect(check(snapshot)).toMatchObject({ pass: true });
    }
  });

  it("finds lost stock, leftover reservations, double charges, money gaps and open orders", () => {
    const snapshot: Snapshot = {
      products: [{ product: product(2, { available: 7, reserved: 2 }), movements }],
      orders: [order("o1", "CONFIRMED"), order("o2", "PENDING")],
      payments: [payment("o1", "COMPLETED"), payment("o1", "COMPLETED")],
    };
    expect(checkStockConservation(snapshot).pass).toBe(false); // 10 != 7 + 2 + 2
    expect(checkNothingReserved(snapshot).pass).toBe(false);
    expect(checkSoldMatchesOrders(snapshot).pass).toBe(false); // sold 2, one confirmed unit
    expect(checkOneChargePerOrder(snapshot).pass).toBe(false);
    expect(checkMoney(snapshot)).toMatchObject({ pass: false, detail: expect.stringContaining("= 2000; confirmed orders total 1000") });
    expect(checkAllSettled(snapshot).pass).toBe(false);
  });

  it("nets refunds against charges", () => {
    const snapshot: Snapshot = {
      products: [],
      orders: [order("o1", "CONFIRMED"), order("o2", "CANCELLED")],
      payments: [payment("o1", "COMPLETED"), payment("o2", "REFUNDED", "500", "500")],
    };
    expect(checkMoney(snapshot).pass).toBe(true);
  });

  it("scores a flash sale: confirmed, rejected with a reason, unclear, oversold", () => {
    const orders = [
      order("o1", "CONFIRMED", { customer_id: "b1" }),
      order("o2", "CONFIRMED", { customer_id: "b2" }),
      order("o3", "REJECTED", { customer_id: "b3", failure_reason: "insufficient stock for p1" }),
      order("o4", "REJECTED", { customer_id: "b4", failure_reason: "" }),
    ];
    const outcome = flashOutcome({ buyers: 5, units: 2, product: product(3), orders });
    expect(outcome).toEqual({ buyers: 5, units: 2, confirmed: 2, rejected: 1, soldOut: 0, unclear: 2, sold: 3, oversold: 1 });
    expect(flashChecks(outcome, 2).map((c) => c.pass)).toEqual([true, false, false]);
  });

  it("counts a buyer refused as sold out (no order) as a clear answer, but not one with an unclear order", () => {
    const orders = [
      order("o1", "CONFIRMED", { customer_id: "b1" }),
      order("o2", "CONFIRMED", { customer_id: "b2" }),
      order("o3", "REJECTED", { customer_id: "b3", failure_reason: "insufficient stock for p1" }),
      order("o4", "PENDING", { customer_id: "b4" }),
    ];
    const outcome = flashOutcome({ buyers: 5, units: 2, product: product(2), orders, soldOut: new Set(["b4", "b5"]) });
    expect(outcome).toMatchObject({ confirmed: 2, rejected: 1, soldOut: 1, unclear: 1 });
    expect(flashChecks(outcome, 2).map((c) => c.pass)).toEqual([true, true, false]);
    const clear = flashOutcome({ buyers: 4, units: 2, product: product(2), orders: orders.slice(0, 3), soldOut: new Set(["b4"]) });
    expect(clear).toMatchObject({ soldOut: 1, unclear: 0 });
    expect(flashChecks(clear, 2).every((c) => c.pass)).toBe(true);
    expect(isSoldOutRefusal({ code: "failed_precondition", message: "items[0].product_id: product p1 is sold out" })).toBe(true);
    expect(isSoldOutRefusal({ code: "failed_precondition", message: "product p1 is DISCONTINUED and cannot be ordered" })).toBe(false);
  });
});

describe("sagaTimings", () => {
  it("measures create -> CONFIRMED from server timestamps and rates over the first create to the last completion", () => {
    const history = (at: string, to: string) => [
      { from_status: "ORDER_STATUS_UNSPECIFIED", to_status: "ORDER_STATUS_PENDING", reason: "", changed_at: "2024-01-01T00:00:00.000Z" },
      { from_status: "ORDER_STATUS_PENDING", to_status: "ORDER_STATUS_RESERVED", reason: "", changed_at: at },
      { from_status: "ORDER_STATUS_RESERVED", to_status: `ORDER_STATUS_${to}`, reason: "", changed_at: at },
    ];
    const orders = [
      order("o1", "CONFIRMED", { created_at: "2024-01-01T00:00:00.000Z", history: history("2024-01-01T00:00:00.100Z", "CONFIRMED") }),
      order("o2", "CONFIRMED", { created_at: "2024-01-01T00:00:00.000Z", history: history("2024-01-01T00:00:00.500250Z", "CONFIRMED") }),
      order("o3", "PAYMENT_FAILED", { created_at: "2024-01-01T00:00:00.000Z", history: history("2024-01-01T00:00:01.000Z", "PAYMENT_FAILED") }),
      order("o4", "PENDING", { created_at: "2024-01-01T00:00:00.000Z" }),
    ];
    const t = sagaTimings(orders);
    expect(t.confirmed).toBe(2);
    expect(t.settled).toBe(3);
    expect(t.toConfirmed.summary().max).toBeCloseTo(500.25, 0);
    expect(t.windowSeconds).toBeCloseTo(0.50025, 4);
    expect(t.confirmedPerSecond).toBeCloseTo(2 / 0.50025, 2);
    expect(t.settledPerSecond).toBeCloseTo(3, 5);
  });
});

describe("report", () => {
  it("formats aligned tables and the summary rows", () => {
    expect(formatTable(["a", "bb"], [["xyz", "1"]])).toBe(["+-----+----+", "| a   | bb |", "+-----+----+", "| xyz | 1  |", "+-----+----+"].join("\n"));
    const latency = { count: 1, mean: 1, p50: 1, p95: 2, p99: 3, max: 4 };
    const result: ScenarioResult = {
      scenario: "steady",
      startedAt: "2024-01-01T00:00:00.000Z",
      finishedAt: "2024-01-01T00:00:10.000Z",
      gateway: "http://x",
      ownStack: true,
      parameters: { concurrency: 2 },
      figures: {
        loadSeconds: 10,
        ordersAccepted: 20,
        acceptedPerSecond: 2,
        createErrors: 1,
        errorsByCode: { unavailable: 1 },
        retriesByCode: { unavailable: 3, aborted: 1 },
        createLatencyMs: latency,
        sagaLatencyMs: latency,
        settleLatencyMs: latency,
        confirmed: 20,
        settled: 20,
        sagaWindowSeconds: 10,
        confirmedPerSecond: 2,
        settledPerSecond: 2,
        settleWaitSeconds: 1,
        statusCounts: { CONFIRMED: 20 },
      },
      invariants: [],
      targets: [],
      histograms: { createOrder: "", sagaConfirmed: "" },
    };
    const rows = Object.fromEntries(summaryRows(result));
    expect(rows["create errors"]).toBe("1 (unavailable 1)");
    expect(rows["create attempts retried"]).toBe("4 (unavailable 3, aborted 1)");
    expect(rows["create-order latency ms p50/p95/p99/max"]).toBe("1.0 / 2.0 / 3.0 / 4.0");
    expect(rows["confirmed sagas"]).toBe("20 (2.0/s over 10.0 s)");
  });

  it("prints wakeups by process and WAL flushes per saga, n/a where not measured", () => {
    const figures = { settled: 10 } as ScenarioResult["figures"];
    const measured = Object.fromEntries(
      resourceRows({
        ...figures,
        resources: {
          cpuMs: { order: 30, total: 30 },
          wakeups: { order: 200, postgres: 300, total: 500 },
          walSyncs: 25,
          sqlTransactions: 40,
          sqlStatements: 120,
          eventsPublished: 90,
          durability: null,
          topStatements: null,
        },
      }),
    );
    expect(measured["wakeups per saga (voluntary context switches)"]).toBe("50.0: postgres 30.0, order 20.0");
    expect(measured["SQL transactions / statements / WAL flushes per saga"]).toBe("4.0 / 12.0 / 2.5");
    const unmeasured = Object.fromEntries(
      resourceRows({
        ...figures,
        resources: { cpuMs: { total: 0 }, sqlTransactions: null, sqlStatements: null, eventsPublished: null, durability: null, topStatements: null },
      }),
    );
    expect(unmeasured["wakeups per saga (voluntary context switches)"]).toBe("n/a");
    expect(unmeasured["SQL transactions / statements / WAL flushes per saga"]).toBe("n/a / n/a / n/a");
  });

  it("counts this process's own sleeps as the load generator's wakeups", async () => {
    const before = processUsage().wakeups.loadgen ?? 0;
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(processUsage().wakeups.loadgen ?? 0).toBeGreaterThan(before);
  });
});

describe("cpuprofile packageOf", () => {
  it("names packages, project folders and V8 pseudo-frames", () => {
    expect(packageOf("file:///w/node_modules/@mikro-orm/core/EntityManager.js", "find")).toBe("@mikro-orm/core");
    expect(packageOf("file:///w/node_modules/knex/lib/raw.js", "toSQL")).toBe("knex");
    expect(packageOf("file:///w/services/order/rpc.ts", "createOrder")).toBe("services/order");
    expect(packageOf("file:///w/lib/events/relay.ts", "publish")).toBe("lib/events");
    expect(packageOf("file:///w/lib/errors.ts", "x")).toBe("lib");
    expect(packageOf("node:internal/async_hooks", "x")).toBe("node:internal/async_hooks");
    expect(packageOf("", "(garbage collector)")).toBe("(garbage collector)");
  });
});

describe("chaos follow-up expectations", () => {
  const history = (...statuses: string[]) =>
    statuses.map((s, i) => ({ from_status: i ? `ORDER_STATUS_${statuses[i - 1]}` : "", to_status: `ORDER_STATUS_${s}`, reason: "" }));

  it("wants one invoice and one live delivery for a confirmed order", () => {
    const confirmed = order("o1", "CONFIRMED", { history: history("PENDING", "RESERVED", "CONFIRMED") });
    expect(followUpProblems(confirmed, { invoices: 1, delivery: "PENDING" })).toEqual([]);
    expect(followUpProblems(confirmed, { invoices: 0, delivery: "PENDING" })).toHaveLength(1);
    expect(followUpProblems(confirmed, { invoices: 2, delivery: "PENDING" })).toHaveLength(1);
    expect(followUpProblems(confirmed, { invoices: 1, delivery: undefined })).toHaveLength(1);
  });

  it("keeps the invoice of an order cancelled after confirmation, but no live delivery", () => {
    const cancelled = order("o2", "CANCELLED", { history: history("PENDING", "RESERVED", "CONFIRMED", "CANCELLED") });
    expect(followUpProblems(cancelled, { invoices: 1, delivery: "CANCELLED" })).toEqual([]);
    expect(followUpProblems(cancelled, { invoices: 1, delivery: undefined })).toEqual([]);
    expect(followUpProblems(cancelled, { invoices: 1, delivery: "PENDING" })).toHaveLength(1);
  });

  it("wants no invoice and no delivery for an order that never confirmed", () => {
    const cancelled = order("o3", "CANCELLED", { history: history("PENDING", "RESERVED", "CANCELLED") });
    expect(followUpProblems(cancelled, { invoices: 0, delivery: "CANCELLED" })).toEqual([]);
    expect(followUpProblems(cancelled, { invoices: 1, delivery: "CANCELLED" })).toHaveLength(1);
    const failed = order("o4", "PAYMENT_FAILED", { history: history("PENDING", "RESERVED", "PAYMENT_FAILED") });
    expect(followUpProblems(failed, { invoices: 0, delivery: "PENDING" })).toHaveLength(1);
  });
});
