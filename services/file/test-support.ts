import { inflateSync } from "node:zlib";

/**
 * The text a pdfkit document shows, one line per text run, for tests: pdfkit writes text as TJ
 * arrays of hex strings (split where it kerns), inside content streams that are Flate-compressed
 * unless the document was made with `compress: false`.
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
    .flatMap((content) => [...content.matchAll(/\[([^\]]*)\]\s*TJ/g)])
    .map((tj) => [...tj[1].matchAll(/<([0-9a-fA-F]*)>/g)].map((hex) => Buffer.from(hex[1], "hex").toString("latin1")).join(""))
    .join("\n");
}
