import { describe, expect, it } from "@jest/globals";
import { inflateSync } from "node:zlib";
import { pdfDate, pdfNumber, pdfString, PdfWriter } from "./pdf-writer.js";

/** The xref table's entries and the startxref offset of a finished file. */
function crossReference(pdf: Buffer): { startxref: number; entries: { offset: number; kind: string }[] } {
  const text = pdf.toString("latin1");
  const startxref = Number(/startxref\n(\d+)\n%%EOF\n$/.exec(text)?.[1]);
  const table = text.slice(startxref);
  const header = /^xref\n0 (\d+)\n/.exec(table);
  expect(header).not.toBeNull();
  const count = Number(header![1]);
  const body = table.slice(header![0].length, header![0].length + 20 * count);
  const entries = Array.from({ length: count }, (_, i) => body.slice(20 * i, 20 * (i + 1))).map((entry) => {
    expect(entry).toMatch(/^\d{10} \d{5} [fn] \n$/);
    return { offset: Number(entry.slice(0, 10)), kind: entry[17] };
  });
  return { startxref, entries };
}

describe("PdfWriter", () => {
  it("points every xref entry at its `N 0 obj` and startxref at the table", () => {
    const writer = new PdfWriter();
    const catalog = writer.reserve();
    const pages = writer.reserve();
    const content = writer.addStream(Buffer.from("BT /F1 12 Tf 10 10 Td (caf\\351) Tj ET"), { compress: true });
    const page = writer.add(`<< /Type /Page /Parent ${pages} 0 R /Contents ${content} 0 R >>`);
    writer.set(pages, `<< /Type /Pages /Kids [${page} 0 R] /Count 1 >>`);
    writer.set(catalog, `<< /Type /Catalog /Pages ${pages} 0 R >>`);
    const info = writer.add(`<< /Title ${pdfString(Buffer.from("é (x)", "latin1"))} >>`);
    const pdf = writer.finish({ root: catalog, info });

    const text = pdf.toString("latin1");
    expect(text.startsWith("%PDF-1.4\n")).toBe(true);
    const { startxref, entries } = crossReference(pdf);
    expect(text.slice(startxref, startxref + 5)).toBe("xref\n");
    expect(entries).toHaveLength(6);
    expect(entries[0]).toEqual({ offset: 0, kind: "f" });
    entries.slice(1).forEach(({ offset, kind }, i) => {
      expect(kind).toBe("n");
      expect(text.slice(offset, offset + `${i + 1} 0 obj\n`.length)).toBe(`${i + 1} 0 obj\n`);
    });
    expect(text).toMatch(new RegExp(`trailer\\n<< /Size 6 /Root ${catalog} 0 R /Info ${info} 0 R >>`));
  });

  it("writes a stream's exact byte length, compressed or not", () => {
    for (const compress of [false, true]) {
      const writer = new PdfWriter();
      const data = Buffer.from("0 0 m 10 10 l S\n".repeat(20));
      const ref = writer.addStream(data, { compress });
      const pdf = writer.finish({ root: ref });
      const text = pdf.toString("latin1");
      const match = /<< \/Length (\d+)(?: \/Filter \/FlateDecode)? >>\nstream\n/.exec(text)!;
      const start = match.index + match[0].length;
      const length = Number(match[1]);
      expect(text.slice(start + length, start + length + "\nendstream".length)).toBe("\nendstream");
      const bytes = pdf.subarray(start, start + length);
      expect((compress ? inflateSync(bytes) : bytes).equals(data)).toBe(true);
    }
  });

  it("refuses a reserved object that was never written, and an unknown one", () => {
    const writer = new PdfWriter();
    const ref = writer.reserve();
    expect(() => writer.set(ref + 1, "null")).toThrow(RangeError);
    expect(() => writer.finish({ root: ref })).toThrow(/never written/);
  });
});

describe("pdfString", () => {
  it("escapes what could end the string or read as an operator, and every non-ASCII byte", () => {
    const hostile = Buffer.from(") Tj ET BT /F1 99 Tf (\\\r\n\x00\xe9", "latin1");
    expect(pdfString(hostile)).toBe("(\\) Tj ET BT /F1 99 Tf \\(\\\\\\015\\012\\000\\351)");
    expect(pdfString(Buffer.from("\\)"))).toBe("(\\\\\\))");
  });
});

describe("pdfNumber and pdfDate", () => {
  it("write numbers with two decimals at most and UTC dates", () => {
    expect([pdfNumber(752.7500001), pdfNumber(50), pdfNumber(-0.001), pdfNumber(83.345)]).toEqual(["752.75", "50", "0", "83.35"]);
    expect(pdfDate(new Date("2025-03-14T09:26:53.120Z"))).toBe("D:20250314092653Z");
  });
});
