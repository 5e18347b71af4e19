import { describe, expect, it } from "@jest/globals";
import type { CatalogProduct } from "./pricing.js";
import { findSoldOut } from "./sold-out.js";

function product(id: string, soldOut: boolean): CatalogProduct {
  return { id, name: id, status: "ACTIVE", currencyCode: "USD", unitPriceMinor: 100n, soldOut };
}

describe("findSoldOut", () => {
  const catalog = new Map([product("a", false), product("b", true), product("c", true)].map((p) => [p.id, p]));

  it("names every line whose product is sold out, with its position", () => {
    const lines = [
      { productId: "b", quantity: 1 },
      { productId: "a", quantity: 2 },
      { productId: "c", quantity: 1 },
    ];
    expect(findSoldOut(lines, catalog)).toEqual([
      { index: 0, productId: "b" },
      { index: 2, productId: "c" },
    ]);
  });

  it("finds nothing when every product has stock, or is unknown (pricing answers for those)", () => {
    expect(findSoldOut([{ productId: "a", quantity: 5 }], catalog)).toEqual([]);
    expect(findSoldOut([{ productId: "zzz", quantity: 1 }], catalog)).toEqual([]);
  });
});
