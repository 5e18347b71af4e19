import { describe, expect, it } from "@jest/globals";
import { failureText, MAX_FAILURE_TEXT, permanentFailure } from "./provider.js";

describe("failureText", () => {
  it("keeps a provider's failure as it can be stored: NUL and half emoji repaired, cut without halving one", () => {
    expect(failureText(permanentFailure("mailbox\u0000 gone \ud83d"))).toBe("mailbox\ufffd gone \ufffd");
    expect(failureText(new TypeError(""))).toBe("TypeError");
    expect(failureText("plain\u0000")).toBe("plain\ufffd");
    const long = failureText(new Error(`${"x".repeat(MAX_FAILURE_TEXT - 1)}😀`));
    expect(long).toBe("x".repeat(MAX_FAILURE_TEXT - 1));
  });
});
