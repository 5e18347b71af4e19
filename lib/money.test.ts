import { describe, expect, it } from "@jest/globals";
import { formatMoney, minorDigits } from "./money.js";

describe("minorDigits", () => {
  it("knows the minor unit of each currency", () => {
    expect(minorDigits("USD")).toBe(2);
    expect(minorDigits("JPY")).toBe(0);
    expect(minorDigits("KWD")).toBe(3);
  });

  it("assumes two digits for a code it does not know, and keeps answering from its cache", () => {
    expect(minorDigits("ZZZ")).toBe(2);
    expect(minorDigits("not a code")).toBe(2);
    expect(minorDigits("not a code")).toBe(2);
  });
});

describe("formatMoney", () => {
  it("uses the currency's minor unit and groups thousands, without floating point", () => {
    expect(formatMoney(123450, "USD")).toBe("1,234.50 USD");
    expect(formatMoney(1999n, "EUR")).toBe("19.99 EUR");
    expect(formatMoney(5, "EUR")).toBe("0.05 EUR");
    expect(formatMoney(0, "USD")).toBe("0.00 USD");
    expect(formatMoney(1500, "JPY")).toBe("1,500 JPY");
    expect(formatMoney(1234567, "KWD")).toBe("1,234.567 KWD");
    expect(formatMoney(-250, "USD")).toBe("-2.50 USD");
  });

  it("is exact beyond Number.MAX_SAFE_INTEGER", () => {
    expect(formatMoney(9007199254740991, "USD")).toBe("90,071,992,547,409.91 USD");
    expect(formatMoney(9007199254740993n, "USD")).toBe("90,071,992,547,409.93 USD");
  });
});
