import { describe, expect, it } from "@jest/globals";
import { crossedLowStock, crossedZero, describeShortages, findShortages, moveLevel, normalizeLines, type StockLevel, stockStatus } from "./stock.js";

function level(productId: string, available: number, status: StockLevel["status"] = "ACTIVE"): StockLevel {
  return { productId, status, available, reserved: 0, sold: 0, lowStockThreshold: 5 };
}

describe("stockStatus", () => {
  it("is OUT_OF_STOCK at zero, LOW_STOCK at or below the threshold, IN_STOCK above", () => {
    expect(stockStatus(0, 5)).toBe("OUT_OF_STOCK");
    expect(stockStatus(1, 5)).toBe("LOW_STOCK");
    expect(stockStatus(5, 5)).toBe("LOW_STOCK");
    expect(stockStatus(6, 5)).toBe("IN_STOCK");
    expect(stockStatus(1, 0)).toBe("IN_STOCK");
  });
});

describe("normalizeLines", () => {
  it("merges repeated products and sorts by product id", () => {
    expect(
      normalizeLines([
        { productId: "b", quantity: 1 },
        { productId: "a", quantity: 2 },
        { productId: "b", quantity: 3 },
      ]),
    ).toEqual([
      { productId: "a", quantity: 2 },
      { productId: "b", quantity: 4 },
    ]);
  });
});

describe("findShortages", () => {
  const stock = new Map([
    ["a", level("a", 10)],
    ["b", level("b", 1)],
    ["c", level("c", 50, "DISCONTINUED")],
    ["d", level("d", 50, "INACTIVE")],
  ]);

  it("accepts lines that all fit", () => {
    expect(
      findShortages(
        [
          { productId: "a", quantity: 10 },
          { productId: "b", quantity: 1 },
        ],
        stock,
      ),
    ).toEqual([]);
  });

  it("names every line that does not fit, and why", () => {
    const shortages = findShortages(
      [
        { productId: "a", quantity: 11 },
        { productId: "b", quantity: 1 },
        { productId: "c", quantity: 1 },
        { productId: "d", quantity: 1 },
        { productId: "z", quantity: 1 },
      ],
      stock,
    );
    expect(shortages.map((s) => [s.productId, s.reason])).toEqual([
      ["a", "insufficient"],
      ["c", "discontinued"],
      ["d", "inactive"],
      ["z", "unknown"],
    ]);
    expect(describeShortages(shortages)).toBe("a: 11 requested, 10 available; c: discontinued; d: inactive; z: unknown");
  });
});

describe("crossedLowStock", () => {
  it("fires once, on the move from above to at-or-below the threshold", () => {
    expect(crossedLowStock(6, 5, 5)).toBe(true);
    expect(crossedLowStock(10, 0, 5)).toBe(true);
    expect(crossedLowStock(5, 4, 5)).toBe(false);
    expect(crossedLowStock(10, 6, 5)).toBe(false);
  });
});

describe("crossedZero", () => {
  it("is true only when available stock runs out or comes back", () => {
    expect(crossedZero(1, 0)).toBe(true);
    expect(crossedZero(5, 0)).toBe(true);
    expect(crossedZero(0, 3)).toBe(true);
    expect(crossedZero(5, 4)).toBe(false);
    expect(crossedZero(4, 5)).toBe(false);
    expect(crossedZero(0, 0)).toBe(false);
  });
});

describe("moveLevel", () => {
  it("moves the quantity between the named counters and keeps their sum when it only moves units", () => {
    const before = { ...level("a", 10), reserved: 4, sold: 1 };
    const after = moveLevel(before, 3, { available: -1, reserved: 1 });
    expect(after).toEqual({ ...before, available: 7, reserved: 7, sold: 1 });
    expect(after.available + after.reserved + after.sold).toBe(before.available + before.reserved + before.sold);
    expect(moveLevel(after, 2, { reserved: -1, sold: 1 })).toMatchObject({ available: 7, reserved: 5, sold: 3 });
  });

  it("changes the sum only by the counters it names alone (replenish, adjust)", () => {
    expect(moveLevel(level("a", 1), 4, { available: 1 })).toMatchObject({ available: 5, reserved: 0, sold: 0 });
    expect(moveLevel(level("a", 5), 5, { available: -1 })).toMatchObject({ available: 0 });
  });
});
