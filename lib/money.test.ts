import { describe, expect, it } from "@jest/globals";
import { minorDigits } from "./money.js";

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
