import { describe, expect, it } from "@jest/globals";
import { fileNameProblem, mediaTypeOf } from "./upload-rules.js";

describe("fileNameProblem", () => {
  it("accepts ordinary names, with spaces, unicode and several dots", () => {
    for (const name of ["report.pdf", "Q3 results (final).csv", "Jürgen's photo.jpeg", "a", "archive.tar.gz", "x".repeat(255)]) {
      expect(fileNameProblem(name)).toBeUndefined();
    }
  });

  it.each([
    ["", /required/],
    ["../../etc/passwd", /path separators/],
    ["a/b", /path separators/],
    ["a\\b", /path separators/],
    ["..", /"\.\."/],
    ["report..pdf", /"\.\."/],
    [".hidden", /start with "\."/],
    ["\u0000x", /control characters/],
    ["a\nb", /control characters/],
    ["a\u007fb", /control characters/],
    ["invoice\u202Efdp.exe", /control characters/],
    ["   ", /blank/],
    [" leading.txt", /whitespace/],
    ["x".repeat(256), /at most 255/],
  ])("rejects %j", (name, problem) => {
    expect(fileNameProblem(name)).toMatch(problem);
  });

  it("counts characters, not UTF-16 units", () => {
    expect(fileNameProblem("😀".repeat(255))).toBeUndefined();
  });
});

describe("mediaTypeOf", () => {
  it("canonicalizes type/subtype and drops parameters", () => {
    expect(mediaTypeOf("Text/Plain; charset=utf-8")).toBe("text/plain");
    expect(mediaTypeOf("application/pdf")).toBe("application/pdf");
    expect(mediaTypeOf("application/vnd.ms-excel")).toBe("application/vnd.ms-excel");
  });

  it("rejects what is not a media type", () => {
    for (const value of ["", "pdf", "text/", "/plain", "text/plain/x", "text/pl ain", "text/plain\r\nX-Evil: 1"]) {
      expect(mediaTypeOf(value)).toBeUndefined();
    }
  });
});
