import { inflateSync } from "node:zlib";
import { winAnsiChar } from "./pdf-fonts.js";

/** The bytes of a PDF literal string's inside, its escapes undone. */
function literalBytes(inside: string): number[] {
  const bytes: number[] = [];
  const named: Record<string, number> = { n: 0x0a, r: 0x0d, t: 0x09, b: 0x08, f: 0x0c };
  for (let i = 0; i < inside.length; i++) {
    const char = inside[i];
    if (char !== "\\") {
      bytes.push(char.charCodeAt(0));
      continue;
    }
    const octal = /^[0-7]{1,3}/.exec(inside.slice(i + 1))?.[0];
    if (octal) {
      bytes.push(parseInt(octal, 8));
      i += octal.length;
    } else {
      const next = inside[++i];
      bytes.push(named[next] ?? next.charCodeAt(0));
    }
  }
  return bytes;
}

/**
 * The text a PDF of ours shows, one line per text run, for tests: runs are `(...) Tj` literal
 * strings of WinAnsi bytes, inside content streams that are Flate-compressed unless the document
 * was made with `compress: false`.
 */
export function pdfText(pdf: Buffer): string {
  const source = pdf.toString("latin1");
  const contents = [source];
  for (const match of source.matchAll(/stream\r?\n/g)) {
    const start = match.index + match[0].length;
    const end = source.indexOf("endstream", start);
    if (end < 0) continue;
    try {
      contents.push(inflateSync(pdf.subarray(start, end)).toString("latin1"));
    } catch {
      // Not compressed, or not a content stream.
    }
  }
  return contents
    .flatMap((content) => [...content.matchAll(/\(((?:[^\\()]|\\[\s\S])*)\)\s*Tj/g)])
    .map((tj) => literalBytes(tj[1]).map(winAnsiChar).join(""))
    .join("\n");
}
