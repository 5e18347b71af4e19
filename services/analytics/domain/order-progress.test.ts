import { describe, expect, it } from "@jest/globals";
import { mergeProgress, type OrderProgress, progressByOrder, Stage, withImpliedStages } from "./order-progress.js";

const ORDER = "0190f0f0-0000-7000-8000-000000000001";
const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));

const events: OrderProgress[] = [
  { orderId: ORDER, createdAt: at(0), status: { name: "PENDING", at: at(0) }, stages: withImpliedStages("CREATED") },
  { orderId: ORDER, status: { name: "RESERVED", at: at(1) }, stages: withImpliedStages("RESERVED") },
  { orderId: ORDER, stages: withImpliedStages("PAID") },
  { orderId: ORDER, confirmedAt: at(2), status: { name: "CONFIRMED", at: at(2) }, stages: withImpliedStages("PAID") },
  { orderId: ORDER, status: { name: "SHIPPED", at: at(3) }, stages: 0 },
  { orderId: ORDER, status: { name: "DELIVERED", at: at(4) }, stages: withImpliedStages("DELIVERED") },
];

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

describe("order progress", () => {
  it("comes out the same whatever the order of arrival, and duplicates change nothing", () => {
    const expected = { orderId: ORDER, createdAt: at(0), confirmedAt: at(2), status: { name: "DELIVERED", at: at(4) }, stages: 15 };
    for (const order of permutations(events)) {
      expect(order.reduce(mergeProgress)).toEqual(expected);
      expect([...order, ...order.slice(0, 3)].reduce(mergeProgress)).toEqual(expected);
    }
  });

  it("lets a final status win over a later lower one and implies earlier stages", () => {
    const cancelled = mergeProgress(
      { orderId: ORDER, status: { name: "CANCELLED", at: at(5) }, stages: 0 },
      { orderId: ORDER, status: { name: "RESERVED", at: at(9) }, stages: Stage.RESERVED },
    );
    expect(cancelled.status?.name).toBe("CANCELLED");
    expect(withImpliedStages("DELIVERED")).toBe(Stage.RESERVED | Stage.PAID | Stage.DELIVERED);
    expect(withImpliedStages("DELIVERED") & Stage.CREATED).toBe(0);
  });

  it("merges a batch into one entry per order, sorted by id", () => {
    const other = "0190f0f0-0000-7000-8000-000000000000";
    const merged = progressByOrder([...events, { orderId: other, stages: Stage.CREATED, createdAt: at(9) }]);
    expect(merged.map((p) => p.orderId)).toEqual([other, ORDER]);
    expect(merged[1].stages).toBe(15);
    expect(() => mergeProgress(events[0], { orderId: other, stages: 0 })).toThrow(/cannot merge/);
  });
});
