import { describe, expect, it } from "@jest/globals";
import { enumLabel, formatMoney, parseAmount } from "./format.js";
import { href, parseRoute } from "./router.js";
import { sessionFromToken } from "./session.js";

/** The web app's pure helpers (the pages themselves are tested in Chromium: test/web). */

function jwt(claims: object): string {
  const part = (value: object) => btoa(JSON.stringify(value)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}.signature`;
}

describe("money", () => {
  it("parses what people type into minor units, refusing anything else", () => {
    expect(parseAmount("19.99")).toBe(1999n);
    expect(parseAmount("19,9")).toBe(1990n);
    expect(parseAmount(" 7 ")).toBe(700n);
    expect(parseAmount("1.999")).toBeUndefined();
    expect(parseAmount("-1")).toBeUndefined();
    expect(parseAmount("12abc")).toBeUndefined();
    expect(parseAmount("500", "JPY")).toBe(500n);
  });

  it("formats minor units in their currency", () => {
    expect(formatMoney({ currencyCode: "USD", amountMinor: 2450n })).toMatch(/24\.50/);
    expect(formatMoney(undefined)).toBe("—");
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
