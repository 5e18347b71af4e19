import { describe, expect, it } from "@jest/globals";
import { addressLines, lineTotalMinor, subtotalMinor } from "./invoice.js";

describe("totals and addresses", () => {
  it("multiplies and sums lines in minor units", () => {
    const lines = [
      { productId: "a", name: "A", quantity: 3, unitPriceMinor: 1999 },
      { productId: "b", name: "B", quantity: 1, unitPriceMinor: 1 },
    ];
    expect(lineTotalMinor(lines[0])).toBe(5997);
    expect(subtotalMinor(lines)).toBe(5998);
  });

  it("prints an address without empty parts", () => {
    expect(
      addressLines({ recipientName: "Ada", line1: "1 Main St", line2: "", city: "Berlin", region: "", postalCode: "10115", countryCode: "DE" }),
    ).toEqual(["Ada", "1 Main St", "10115 Berlin", "DE"]);
  });
});
