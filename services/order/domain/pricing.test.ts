import { describe, expect, it } from "@jest/globals";
import { type CatalogProduct, lineTotal, MAX_AMOUNT_MINOR, priceOrder } from "./pricing.js";

function product(id: string, unitPriceMinor: bigint, overrides: Partial<CatalogProduct> = {}): CatalogProduct {
  return { id, name: `Product ${id}`, status: "ACTIVE", currencyCode: "USD", unitPriceMinor, soldOut: false, ...overrides };
}

function catalogOf(...products: CatalogProduct[]): Map<string, CatalogProduct> {
  return new Map(products.map((p) => [p.id, p]));
}

describe("pricing", () => {
  it("multiplies in integer minor units", () => {
    expect(lineTotal(1999n, 3)).toBe(5997n);
    expect(lineTotal(0n, 5)).toBe(0n);
    expect(() => lineTotal(1n, 1.5)).toThrow(RangeError);
  });

  it("prices every line from the catalog and sums the total exactly", () => {
    // 0.1 + 0.2 style amounts that floating point gets wrong.
    const result = priceOrder(
      [
        { productId: "a", quantity: 3 },
        { productId: "b", quantity: 1 },
      ],
      catalogOf(product("a", 10n), product("b", 20n)),
    );
    expect(result).toEqual({
      ok: true,
      order: {
        currencyCode: "USD",
        totalMinor: 50n,
        lines: [
          { productId: "a", productName: "Product a", quantity: 3, unitPriceMinor: 10n, lineTotalMinor: 30n },
          { productId: "b", productName: "Product b", quantity: 1, unitPriceMinor: 20n, lineTotalMinor: 20n },
        ],
      },
    });
  });

  it("keeps exact values beyond 2^53", () => {
    const big = 2n ** 60n + 1n;
    const result = priceOrder([{ productId: "a", quantity: 3 }], catalogOf(product("a", big)));
    expect(result).toMatchObject({ ok: true, order: { totalMinor: big * 3n } });
  });

  it("refuses totals that do not fit in int64", () => {
    const result = priceOrder(
      [
        { productId: "a", quantity: 1 },
        { productId: "b", quantity: 1 },
      ],
      catalogOf(product("a", MAX_AMOUNT_MINOR), product("b", 1n)),
    );
    expect(result).toEqual({ ok: false, problem: { kind: "too_large" } });
  });

  it("names the first line whose product is unknown", () => {
    const result = priceOrder(
      [
        { productId: "a", quantity: 1 },
        { productId: "x", quantity: 1 },
        { productId: "y", quantity: 1 },
      ],
      catalogOf(product("a", 1n)),
    );
    expect(result).toEqual({ ok: false, problem: { kind: "missing", index: 1, productId: "x" } });
  });

  it("refuses products that are not ACTIVE", () => {
    const result = priceOrder([{ productId: "a", quantity: 1 }], catalogOf(product("a", 1n, { status: "DISCONTINUED" })));
    expect(result).toEqual({ ok: false, problem: { kind: "not_orderable", index: 0, productId: "a", status: "DISCONTINUED" } });
  });

  it("takes the currency from the catalog and requires every line to share it", () => {
    const catalog = catalogOf(product("a", 1n, { currencyCode: "EUR" }), product("b", 1n, { currencyCode: "USD" }));
    expect(priceOrder([{ productId: "a", quantity: 1 }], catalog)).toMatchObject({ ok: true, order: { currencyCode: "EUR" } });
    expect(
      priceOrder(
        [
          { productId: "a", quantity: 1 },
          { productId: "b", quantity: 1 },
        ],
        catalog,
      ),
    ).toEqual({ ok: false, problem: { kind: "currency_mismatch", index: 1, productId: "b", expected: "EUR", actual: "USD" } });
  });

  it("checks the currency the client expects", () => {
    const catalog = catalogOf(product("a", 1n, { currencyCode: "EUR" }));
    expect(priceOrder([{ productId: "a", quantity: 1 }], catalog, "EUR")).toMatchObject({ ok: true });
    expect(priceOrder([{ productId: "a", quantity: 1 }], catalog, "USD")).toEqual({
      ok: false,
      problem: { kind: "currency_mismatch", index: 0, productId: "a", expected: "USD", actual: "EUR" },
    });
  });

  it("refuses negative catalog prices", () => {
    expect(priceOrder([{ productId: "a", quantity: 1 }], catalogOf(product("a", -1n)))).toEqual({
      ok: false,
      problem: { kind: "invalid_price", index: 0, productId: "a" },
    });
  });

  it("needs at least one line", () => {
    expect(() => priceOrder([], new Map())).toThrow(RangeError);
  });
});
