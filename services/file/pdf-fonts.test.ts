import { describe, expect, it } from "@jest/globals";
import { REPLACEMENT, textWidth, winAnsiChar, winAnsiEncode } from "./pdf-fonts.js";

describe("winAnsiEncode", () => {
  it("keeps ASCII and Latin-1, maps the WinAnsi extras and replaces the rest", () => {
    expect([...winAnsiEncode("Aé€…’")]).toEqual([0x41, 0xe9, 0x80, 0x85, 0x92]);
    // CJK, an emoji (one code point, two UTF-16 units), a control character, a C1 control.
    expect([...winAnsiEncode("日😀\u0007\u0085")]).toEqual([REPLACEMENT, REPLACEMENT, REPLACEMENT, REPLACEMENT]);
  });

  it("reads back what it wrote", () => {
    const text = "Zoë Ça coûte 5 € – “ok” ™";
    expect([...winAnsiEncode(text)].map(winAnsiChar).join("")).toBe(text);
  });
});

describe("textWidth", () => {
  it("measures with each font's widths", () => {
    // Helvetica: O 778, r 333, d 556, e 556, r 333; Helvetica-Bold: O 778, r 389, d 611, e 556, r 389.
    expect(textWidth("Helvetica", winAnsiEncode("Order"), 10)).toBeCloseTo(25.56, 5);
    expect(textWidth("Helvetica-Bold", winAnsiEncode("Order"), 10)).toBeCloseTo(27.23, 5);
    expect(textWidth("Helvetica", winAnsiEncode(""), 10)).toBe(0);
    expect(textWidth("Helvetica", winAnsiEncode("日"), 10)).toBe(textWidth("Helvetica", winAnsiEncode("?"), 10));
  });
});
