import { describe, expect, it } from "@jest/globals";
import { textProblem } from "../../../lib/text.js";
import { storedText } from "./stored-text.js";

describe("storedText", () => {
  it("trims, and gives undefined for nothing", () => {
    expect(storedText("  out of stock  ")).toBe("out of stock");
    expect(storedText("   ")).toBeUndefined();
  });

  it("cuts at max code units, never inside an emoji", () => {
    const cut = storedText(`${"a".repeat(9)}😀😀`, 10)!;
    expect(cut).toBe("a".repeat(9));
    expect(textProblem(cut)).toBeUndefined();
    expect(storedText(`${"a".repeat(8)}😀😀`, 10)).toBe(`${"a".repeat(8)}😀`);
  });

  it("keeps what lib/events repaired as it is", () => {
    expect(storedText("dam\ufffdaged box \ufffd ok 😀")).toBe("dam\ufffdaged box \ufffd ok 😀");
  });
});
