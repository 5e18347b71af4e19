import { describe, expect, it } from "@jest/globals";
import { Code } from "./errors.js";
import { formatMoney, MAX_AMOUNT_MINOR, minorDigits, minorFromSql, moneyProblem, requireMoney } from "./money.js";

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
    expect(formatMoney(123450n, "USD")).toBe("1,234.50 USD");
    expect(formatMoney(1999n, "EUR")).toBe("19.99 EUR");
    expect(formatMoney(5n, "EUR")).toBe("0.05 EUR");
    expect(formatMoney(0n, "USD")).toBe("0.00 USD");
    expect(formatMoney(1500n, "JPY")).toBe("1,500 JPY");
    expect(formatMoney(1234567n, "KWD")).toBe("1,234.567 KWD");
    expect(formatMoney(-250n, "USD")).toBe("-2.50 USD");
  });

  it("takes a Money as well, with the same rule", () => {
    expect(formatMoney({ currencyCode: "USD", amountMinor: 5000n })).toBe("50.00 USD");
    expect(formatMoney({ currencyCode: "JPY", amountMinor: 1234567n })).toBe("1,234,567 JPY");
  });

  it("is exact beyond Number.MAX_SAFE_INTEGER", () => {
    expect(formatMoney(9007199254740993n, "USD")).toBe("90,071,992,547,409.93 USD");
    expect(formatMoney(MAX_AMOUNT_MINOR, "USD")).toBe("92,233,720,368,547,758.07 USD");
  });
});

describe("moneyProblem", () => {
  it("accepts an ISO code with a non-negative amount up to int64", () => {
    expect(moneyProblem({ currencyCode: "EUR", amountMinor: 0n })).toBeUndefined();
    expect(moneyProblem({ currencyCode: "EUR", amountMinor: MAX_AMOUNT_MINOR })).toBeUndefined();
  });

  it("names the part at fault", () => {
    expect(moneyProblem({ currencyCode: "eur", amountMinor: 1n })).toMatchObject({ field: "currency_code" });
    expect(moneyProblem({ currencyCode: "", amountMinor: 1n })).toMatchObject({ field: "currency_code" });
    expect(moneyProblem({ currencyCode: "EUR", amountMinor: -1n })).toEqual({ field: "amount_minor", problem: "must not be negative" });
    expect(moneyProblem({ currencyCode: "EUR", amountMinor: 0n }, { positive: true })).toEqual({ field: "amount_minor", problem: "must be greater than zero" });
    expect(moneyProblem({ currencyCode: "EUR", amountMinor: MAX_AMOUNT_MINOR + 1n })).toEqual({ field: "amount_minor", problem: "is too large" });
  });
});

describe("requireMoney", () => {
  it("returns a plain Money, without the proto's type name", () => {
    const value = { $typeName: "shop.common.v1.Money", currencyCode: "USD", amountMinor: 1999n } as const;
    expect(requireMoney("price", value)).toStrictEqual({ currencyCode: "USD", amountMinor: 1999n });
  });

  it("is INVALID_ARGUMENT naming the field", () => {
    expect(() => requireMoney("price", undefined)).toThrow(expect.objectContaining({ code: Code.INVALID_ARGUMENT, field: "price" }));
    expect(() => requireMoney("price", { currencyCode: "usd", amountMinor: 1n })).toThrow(
      expect.objectContaining({ code: Code.INVALID_ARGUMENT, field: "price.currency_code" }),
    );
    expect(() => requireMoney("amount", { currencyCode: "USD", amountMinor: 0n }, { positive: true })).toThrow(
      expect.objectContaining({ code: Code.INVALID_ARGUMENT, field: "amount.amount_minor", message: "amount.amount_minor: must be greater than zero" }),
    );
  });
});

describe("minorFromSql", () => {
  it("reads int8 strings exactly, and numbers and bigints", () => {
    expect(minorFromSql("9223372036854775807")).toBe(MAX_AMOUNT_MINOR);
    expect(minorFromSql("-250")).toBe(-250n);
    expect(minorFromSql(42)).toBe(42n);
    expect(minorFromSql(7n)).toBe(7n);
  });

  it("refuses what is not an integer instead of guessing", () => {
    for (const bad of [null, undefined, "", "1.5", "12abc", 1.5, Number.MAX_SAFE_INTEGER + 2]) {
      expect(() => minorFromSql(bad)).toThrow(TypeError);
    }
  });
});
