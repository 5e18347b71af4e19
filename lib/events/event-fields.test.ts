import { describe, expect, it } from "@jest/globals";
import { isPermanent } from "./errors.js";
import { requireOrderId } from "./event-fields.js";

describe("requireOrderId", () => {
  it("lower-cases a valid id, so every service compares and stores the same form", () => {
    expect(requireOrderId("0190A000-0000-7000-8000-00000000000A")).toBe("0190a000-0000-7000-8000-00000000000a");
  });

  it("refuses a malformed id permanently, quoting at most 64 characters of it", () => {
    let error: unknown;
    try {
      requireOrderId(`x${"y".repeat(500)}`);
    } catch (e) {
      error = e;
    }
    expect(isPermanent(error)).toBe(true);
    expect((error as Error).message).toMatch(/^event has an invalid order_id "xy{63}"$/);
  });
});
