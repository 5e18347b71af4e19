import { describe, expect, it } from "@jest/globals";
import { formatMoney } from "./money.js";

describe("formatMoney", () => {
  it("uses the currency's minor unit, without floating point", () => {
    expect(formatMoney(1999n, "EUR")).toBe("19.99 EUR");
    expect(formatMoney(5, "USD")).toBe("0.05 USD");
    expect(formatMoney(500, "JPY")).toBe("500 JPY");
    expect(formatMoney(1234, "KWD")).toBe("1.234 KWD");
    expect(formatMoney(9007199254740993n, "USD")).toBe("90071992547409.93 USD");
    expect(formatMoney(-250, "EUR")).toBe("-2.50 EUR");
  });
});
