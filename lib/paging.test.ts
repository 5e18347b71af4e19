import { describe, expect, it } from "@jest/globals";
import { Code, ServiceError } from "./errors.js";
import { uuidv7 } from "./ids.js";
import { decodePageToken, encodePageToken, nextPage, pageSize } from "./paging.js";

describe("paging", () => {
  it("defaults, caps and rejects page sizes", () => {
    expect(pageSize(0)).toBe(50);
    expect(pageSize(7)).toBe(7);
    expect(pageSize(10_000)).toBe(100);
    expect(() => pageSize(-1)).toThrow("page_size: must not be negative");
  });

  it("round-trips tokens and rejects forged ones as INVALID_ARGUMENT", () => {
    const id = uuidv7();
    expect(decodePageToken(encodePageToken(id))).toBe(id);
    expect(decodePageToken("")).toBeUndefined();
    try {
      decodePageToken(Buffer.from("'; DROP TABLE orders; --").toString("base64url"));
      throw new Error("accepted a forged token");
    } catch (error) {
      expect(error).toBeInstanceOf(ServiceError);
      expect((error as ServiceError).code).toBe(Code.INVALID_ARGUMENT);
    }
  });

  it("emits a next token only when there is another page", () => {
    const rows = Array.from({ length: 3 }, () => ({ id: uuidv7() }));
    expect(nextPage(rows, 3)).toEqual({ page: rows, nextPageToken: "" });
    const { page, nextPageToken } = nextPage(rows, 2);
    expect(page).toEqual(rows.slice(0, 2));
    expect(decodePageToken(nextPageToken)).toBe(rows[1].id);
  });
});
