import { describe, expect, it } from "@jest/globals";
import { isUuid, uuidv7 } from "./ids.js";

describe("uuidv7", () => {
  it("produces RFC 9562 version 7 ids", () => {
    const id = uuidv7();
    expect(isUuid(id)).toBe(true);
    expect(id[14]).toBe("7");
    expect(["8", "9", "a", "b"]).toContain(id[19]);
  });

  it("sorts by creation order, even within one millisecond", () => {
    const ids = Array.from({ length: 5000 }, () => uuidv7());
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("encodes the creation time in the first 48 bits", () => {
    const before = Date.now();
    const ms = Number.parseInt(uuidv7().replace(/-/g, "").slice(0, 12), 16);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(Date.now() + 1000);
  });
});

describe("isUuid", () => {
  it("rejects malformed ids", () => {
    for (const bad of ["", "not-a-uuid", "0190b0e2-7c3a-7b4e-8f2d", "../../etc/passwd", "0190b0e2-7c3a-7b4e-cf2d-1234567890ab"]) {
      expect(isUuid(bad)).toBe(false);
    }
  });
});
