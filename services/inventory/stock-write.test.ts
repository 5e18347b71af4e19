import { describe, expect, it } from "@jest/globals";
import { moveCtes } from "./stock-write.js";

const P = "0190a000-0000-7000-8000-00000000000a";
const Q = "0190a000-0000-7000-8000-00000000000b";

describe("stock move SQL", () => {
  it("moves the named counters and logs every line, as CTEs fed from arrays", () => {
    const { text, params } = moveCtes({
      lines: [
        { productId: P, quantity: 2 },
        { productId: Q, quantity: 1 },
      ],
      change: { available: -1, reserved: 1 },
      type: "RESERVE",
      note: "order reservation",
    });
    expect(text).toContain("SET available = p.available - u.quantity, reserved = p.reserved + u.quantity, version = p.version + 1");
    expect(text).toContain("INSERT INTO stock_movements");
    expect(text.match(/\?/g)).toHaveLength(params.length);
    expect(params.slice(0, 2)).toEqual([
      [P, Q],
      [2, 1],
    ]);
    expect(params.slice(3)).toEqual(["RESERVE", "order reservation"]);
  });

  it("logs the quantity as given: a correction downward is a negative ADJUST", () => {
    const { text, params } = moveCtes({ lines: [{ productId: P, quantity: -3 }], change: { available: 1 }, type: "ADJUST", note: "stock count" });
    expect(text).toContain("SET available = p.available + u.quantity,");
    expect(params[1]).toEqual([-3]);
  });

  it("only logs a move that changes no counter (a new product's initial stock)", () => {
    const { text } = moveCtes({ lines: [{ productId: P, quantity: 5 }], change: {}, type: "REPLENISH", note: "initial stock" });
    expect(text).not.toContain("UPDATE products");
    expect(text).toContain("INSERT INTO stock_movements");
  });

  it("writes nothing for no move or no lines", () => {
    expect(moveCtes(undefined)).toEqual({ text: "", params: [] });
    expect(moveCtes({ lines: [], change: { available: 1 }, type: "REPLENISH", note: "" })).toEqual({ text: "", params: [] });
  });
});
