import { describe, expect, it } from "@jest/globals";
import { addressLines, lineTotalMinor, subtotalMinor } from "./invoice.js";

describe("totals and addresses", () => {
  it("multiplies and sums lines in minor units", () => {
    const lines = [
      { productId: "a", name: "A", quantity: 3, unitPriceMinor: 1999n },
      { productId: "b", name: "B", quantity: 1, unitPriceMinor: 1n },
    ];
    expect(lineTotalMinor(lines[0])).toBe(5997n);
    expect(subtotalMinor(lines)).toBe(5998n);
  });

  it("stays exact beyond Number.MAX_SAFE_INTEGER", () => {
    const line = { productId: "a", name: "A", quantity: 3, unitPriceMinor: 2n ** 60n + 1n };
    expect(lineTotalMinor(line)).toBe(3n * 2n ** 60n + 3n);
    expect(subtotalMinor([line, { ...line, quantity: 1 }])).toBe(4n * 2n ** 60n + 4n);
  });

  it("prints an address without empty parts", () => {
    expect(addressLines({ recipientName: "Ada", line1: "1 Main St", line2: "", city: "Berlin", region: "", postalCode: "10115", countryCode: "DE" })).toEqual([
      "Ada",
      "1 Main St",
      "10115 Berlin",
      "DE",
    ]);
  });
});
