import { describe, expect, it } from "@jest/globals";
import { amountInput, enumLabel, formatMoney, parseAmount } from "./format.js";
import { href, parseRoute } from "./router.js";
import { sessionFromToken } from "./session.js";

/** The web app's pure helpers (the pages themselves are tested in Chromium: test/web). */

function jwt(claims: object): string {
  const part = (value: object) => btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}.signature`;
}

describe("money", () => {
  it("writes amounts as the server does: grouped, the currency's digits, its ISO code", () => {
    expect(formatMoney({ currencyCode: "USD", amountMinor: 123450n })).toBe("1,234.50 USD");
    expect(formatMoney({ currencyCode: "JPY", amountMinor: 1500n })).toBe("1,500 JPY");
    expect(formatMoney({ currencyCode: "EUR", amountMinor: -250n })).toBe("-2.50 EUR");
    expect(formatMoney({ currencyCode: "KWD", amountMinor: 5n })).toBe("0.005 KWD");
    expect(formatMoney({ currencyCode: "USD", amountMinor: 0n })).toBe("0.00 USD");
    expect(formatMoney(undefined)).toBe("—");
  });

  it("stays exact beyond what a double holds", () => {
    // 2^63 - 1 cents: as a Number it would come out as ...5808.00.
    expect(formatMoney({ currencyCode: "USD", amountMinor: 9223372036854775807n })).toBe("92,233,720,368,547,758.07 USD");
    expect(parseAmount("92,233,720,368,547,758.07")).toEqual({ amountMinor: 9223372036854775807n });
  });

  it("reads what people type into minor units", () => {
    expect(parseAmount("12.5")).toEqual({ amountMinor: 1250n });
    expect(parseAmount("1,234.50")).toEqual({ amountMinor: 123450n });
    expect(parseAmount(" 7 ")).toEqual({ amountMinor: 700n });
    expect(parseAmount(".5")).toEqual({ amountMinor: 50n });
    expect(parseAmount("0.10")).toEqual({ amountMinor: 10n });
    expect(parseAmount("1,500", "JPY")).toEqual({ amountMinor: 1500n });
    expect(parseAmount("1.234", "KWD")).toEqual({ amountMinor: 1234n });
  });

  it("says what is wrong with anything else", () => {
    expect(parseAmount("1.999").problem).toBe("has 3 decimal places; USD has 2");
    expect(parseAmount("1.5", "JPY").problem).toBe("must be whole JPY: JPY has no decimal places");
    expect(parseAmount("-1").problem).toBe("must not be negative");
    expect(parseAmount("- 2.50").problem).toBe("must not be negative");
    expect(parseAmount("12abc").problem).toBe('must be a number such as 1,234.50, got "12abc"');
    expect(parseAmount("1,5").problem).toMatch(/must be a number/);
    expect(parseAmount("12,34.5").problem).toMatch(/must be a number/);
    expect(parseAmount("1e3").problem).toMatch(/must be a number/);
    expect(parseAmount("").problem).toBe("is required (an amount such as 1,234.50)");
    expect(parseAmount("9,223,372,036,854,775,808", "JPY").problem).toBe("is too large");
  });

  it("round-trips an amount through the price input", () => {
    for (const [minor, currency] of [
      [123450n, "USD"],
      [5n, "USD"],
      [0n, "EUR"],
      [1500n, "JPY"],
      [1234n, "KWD"],
    ] as const) {
      expect(parseAmount(amountInput(minor, currency), currency)).toEqual({ amountMinor: minor });
    }
    expect(amountInput(123450n, "USD")).toBe("1234.50");
  });

  it("names enum values in words", () => {
    expect(enumLabel({ 5: "PAYMENT_FAILED" }, 5)).toBe("Payment failed");
    expect(enumLabel({ 0: "UNSPECIFIED" }, 0)).toBe("Unknown");
  });
});

describe("routes", () => {
  it("round-trips every page through the URL fragment", () => {
    for (const route of [
      { page: "catalog" },
      { page: "cart" },
      { page: "orders" },
      { page: "order", id: "0190a000-0000-7000-8000-000000000001" },
      { page: "admin-product", id: "p/1" },
      { page: "admin-dlq" },
      { page: "admin-dashboard" },
      { page: "admin-faults" },
    ] as const) {
      expect(parseRoute(href(route))).toEqual(route);
    }
    expect(parseRoute("#/nowhere/at/all")).toEqual({ page: "not-found", path: "/nowhere/at/all" });
  });
});

describe("sessions from tokens", () => {
  const exp = Math.floor(Date.now() / 1000) + 3600;

  it("reads subject, admin role and expiry, with or without a Bearer prefix", () => {
    expect(sessionFromToken(`Bearer ${jwt({ sub: "c1", exp, roles: ["admin"] })}`)).toMatchObject({ sub: "c1", admin: true, expiresAt: exp * 1000 });
    expect(sessionFromToken(jwt({ sub: "c2", exp }))).toMatchObject({ sub: "c2", admin: false });
  });

  it("says what is wrong with an unusable token", () => {
    expect(() => sessionFromToken("not a token")).toThrow(/three parts/);
    expect(() => sessionFromToken(jwt({ exp }))).toThrow(/subject/);
    expect(() => sessionFromToken(jwt({ sub: "c", exp: 1 }))).toThrow(/expired/);
  });
});
