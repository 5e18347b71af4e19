/**
 * What the invoice needs of the PDF standard-14 fonts Helvetica and Helvetica-Bold: WinAnsi
 * encoding of text and the glyph widths to measure it. Standard-14 fonts are built into every
 * PDF reader, so nothing is embedded; their widths are Adobe's published font metrics.
 */

export type FontName = "Helvetica" | "Helvetica-Bold";

export interface FontMetrics {
  /** Top of the tallest capitals above the baseline, in 1/1000 of the font size. */
  ascender: number;
  /** The distance from one line to the next, in 1/1000 of the font size (bounding box height plus the gap). */
  lineHeight: number;
  /** Advance widths of WinAnsi codes 32 to 255, in 1/1000 of the font size (0: no glyph there). */
  widths: readonly number[];
}

const FIRST_CODE = 32;

export const FONTS: Record<FontName, FontMetrics> = {
  Helvetica: {
    ascender: 718,
    lineHeight: 1156,
    // prettier-ignore
    widths: [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 0,
    556, 0, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0,
    0, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 0, 500, 667,
    278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    400, 584, 333, 333, 333, 556, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,
    ],
  },
  "Helvetica-Bold": {
    ascender: 718,
    lineHeight: 1190,
    // prettier-ignore
    widths: [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 0,
    556, 0, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 0, 611, 0,
    0, 278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 0, 500, 667,
    278, 333, 556, 556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333,
    400, 584, 333, 333, 333, 611, 556, 278, 333, 333, 365, 556, 834, 834, 834, 611,
    722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278,
    722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611,
    556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278,
    611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556,
    ],
  },
};

/** WinAnsi codes 128-159, which differ from Latin-1 (the rest of 160-255 is Latin-1 itself). */
const WIN_ANSI_HIGH: Record<number, number> = {
  0x20ac: 0x80,
  0x201a: 0x82,
  0x0192: 0x83,
  0x201e: 0x84,
  0x2026: 0x85,
  0x2020: 0x86,
  0x2021: 0x87,
  0x02c6: 0x88,
  0x2030: 0x89,
  0x0160: 0x8a,
  0x2039: 0x8b,
  0x0152: 0x8c,
  0x017d: 0x8e,
  0x2018: 0x91,
  0x2019: 0x92,
  0x201c: 0x93,
  0x201d: 0x94,
  0x2022: 0x95,
  0x2013: 0x96,
  0x2014: 0x97,
  0x02dc: 0x98,
  0x2122: 0x99,
  0x0161: 0x9a,
  0x203a: 0x9b,
  0x0153: 0x9c,
  0x017e: 0x9e,
  0x0178: 0x9f,
};

/** The character of WinAnsi code `code` (for reading text back in tests and tools). */
export function winAnsiChar(code: number): string {
  const high = Object.entries(WIN_ANSI_HIGH).find(([, c]) => c === code);
  return String.fromCodePoint(high ? Number(high[0]) : code);
}

/** Printed in place of a character WinAnsi has no glyph for (or a control character). */
export const REPLACEMENT = 0x3f; // "?"

/** The WinAnsi code of one Unicode code point, or REPLACEMENT. */
export function winAnsiCode(codePoint: number): number {
  if ((codePoint >= 0x20 && codePoint < 0x7f) || (codePoint >= 0xa0 && codePoint <= 0xff)) return codePoint;
  return WIN_ANSI_HIGH[codePoint] ?? REPLACEMENT;
}

/** `text` in WinAnsi, one byte per character; what it lacks becomes "?". */
export function winAnsiEncode(text: string): Uint8Array {
  const codes: number[] = [];
  for (const char of text) codes.push(winAnsiCode(char.codePointAt(0)!));
  return Uint8Array.from(codes);
}

/** The width in points of WinAnsi-encoded `codes` set in `font` at `size`. */
export function textWidth(font: FontName, codes: Uint8Array, size: number): number {
  const { widths } = FONTS[font];
  let units = 0;
  for (const code of codes) units += widths[code - FIRST_CODE] ?? 0;
  return (units * size) / 1000;
}
