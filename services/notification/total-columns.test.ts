import { describe, expect, it } from "@jest/globals";
import { money } from "../../lib/money.js";
import { totalFromColumns, totalToColumns } from "./total-columns.js";

describe("total columns", () => {
  it("stores a Money as minor units (text, for bigint) and currency code, and reads it back", () => {
    const columns = totalToColumns(money("EUR", 1999n));
    expect(columns).toEqual({ total_minor: "1999", currency_code: "EUR" });
    expect(totalFromColumns(columns)).toEqual(money("EUR", 1999n));
  });

  it("keeps amounts beyond a double's precision exact", () => {
    const large = money("USD", 2n ** 62n + 1n);
    expect(totalFromColumns(totalToColumns(large))).toEqual(large);
  });

  it("stores no total as two nulls and reads no total from either null", () => {
    expect(totalToColumns(null)).toEqual({ total_minor: null, currency_code: null });
    expect(totalFromColumns({ total_minor: null, currency_code: "EUR" })).toBeNull();
    expect(totalFromColumns({ total_minor: "5", currency_code: null })).toBeNull();
  });
});
