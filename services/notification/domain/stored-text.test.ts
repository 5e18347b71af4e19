import { describe, expect, it } from "@jest/globals";
import { textProblem } from "../../../lib/text.js";
import { storedText } from "./stored-text.js";

describe("storedText", () => {
  it("trims, and gives undefined for nothing", () => {
    expect(storedText("  out of stock  ")).toBe("out of stock");
    expect(storedText("   ")).toBeUndefined();
  });

  it("cuts at max code points, never inside an emoji", () => {
    const cut = storedText(`${"a".repeat(9)}😀😀`, 10)!;
    expect(cut).toBe(`${"a".repeat(9)}😀`);
    expect(textProblem(cut)).toBeUndefined();
  });

  it("drops what PostgreSQL text cannot hold: NUL and unpaired surrogates", () => {
    const cleaned = storedText("dam\u0000aged \ud83d box \ude00 ok 😀")!;
    expect(cleaned).toBe("damaged  box  ok 😀");
    expect(textProblem(cleaned)).toBeUndefined();
  });
});
