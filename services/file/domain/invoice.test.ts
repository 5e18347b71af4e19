import { describe, expect, it } from "@jest/globals";
import { addressLines, formatMoney, lineTotalMinor, subtotalMinor } from "./invoice.js";

describe("formatMoney", () => {
  it("formats minor units with the currency's digits and thousands separators, without floats", () => {
    expect(formatMoney(123450, "USD")).toBe("1,234.50 USD");
    expect(formatMoney(5, "EUR")).toBe("0.05 EUR");
    expect(formatMoney(0, "USD")).toBe("0.00 USD");
    expect(formatMoney(1500, "JPY")).toBe("1,500 JPY");
    expect(formatMoney(1234567, "KWD")).toBe("1,234.567 KWD");
    expect(formatMoney(9007199254740991, "USD")).toBe("90,071,992,547,409.91 USD");
    expect(formatMoney(-250, "USD")).toBe("-2.50 USD");
  });
});

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
