import { type FontName, FONTS, textWidth, winAnsiEncode } from "./pdf-fonts.js";
import { pdfDate, pdfNumber, pdfString, PdfWriter } from "./pdf-writer.js";

/** A4 in points. */
export const PAGE = { width: 595.28, height: 841.89 } as const;

const FONT_RESOURCES: Record<FontName, string> = { Helvetica: "F1", "Helvetica-Bold": "F2" };

export interface TextOptions {
  font: FontName;
  size: number;
  /** With `width`: where in the box [x, x + width] the text goes. */
  align?: "left" | "right";
  width?: number;
}

export interface DocumentInfo {
  title: string;
  author: string;
  subject: string;
  creationDate: Date;
}

/**
 * A document of A4 pages of text and lines in the standard Helvetica fonts, laid out in
 * coordinates from the top-left corner (y grows downwards, as on paper); `render` turns it into
 * PDF bytes. Text is one line per call, placed with its top at y, never wrapped.
 */
export class PdfDocument {
  readonly #pages: string[][] = [[]];

  /** The distance from one line of `font` at `size` to the next. */
  static lineHeight(font: FontName, size: number): number {
    return (FONTS[font].lineHeight * size) / 1000;
  }

  /** The width of `text` in `font` at `size`, as printed (characters WinAnsi lacks count as "?"). */
  static widthOf(text: string, font: FontName, size: number): number {
    return textWidth(font, winAnsiEncode(text), size);
  }

  /** Starts a new page; what follows goes on it. */
  addPage(): void {
    this.#pages.push([]);
  }

  /** Writes one line of `text` with its top at (x, y); returns its width. */
  text(text: string, x: number, y: number, { font, size, align = "left", width }: TextOptions): number {
    const codes = winAnsiEncode(text);
    const textW = textWidth(font, codes, size);
    const left = align === "right" && width !== undefined ? x + width - textW : x;
    const baseline = PAGE.height - y - (FONTS[font].ascender * size) / 1000;
    this.#current.push(`BT /${FONT_RESOURCES[font]} ${pdfNumber(size)} Tf ${pdfNumber(left)} ${pdfNumber(baseline)} Td ${pdfString(codes)} Tj ET`);
    return textW;
  }

  /** Strokes a 1 pt black line from (x1, y) to (x2, y). */
  horizontalLine(x1: number, x2: number, y: number): void {
    const pdfY = pdfNumber(PAGE.height - y);
    this.#current.push(`${pdfNumber(x1)} ${pdfY} m ${pdfNumber(x2)} ${pdfY} l S`);
  }

  /** The PDF file: catalog, page tree, the two fonts, one content stream per page and `info`. */
  render(info: DocumentInfo, { compress }: { compress: boolean }): Buffer {
    const writer = new PdfWriter();
    const catalog = writer.reserve();
    const pages = writer.reserve();
    const fonts = (Object.entries(FONT_RESOURCES) as [FontName, string][])
      .map(([name, resource]) => `/${resource} ${writer.add(`<< /Type /Font /Subtype /Type1 /BaseFont /${name} /Encoding /WinAnsiEncoding >>`)} 0 R`)
      .join(" ");
    const resources = writer.add(`<< /Font << ${fonts} >> /ProcSet [/PDF /Text] >>`);
    const kids = this.#pages.map((operators) => {
      const content = writer.addStream(Buffer.from(operators.join("\n"), "latin1"), { compress });
      return writer.add(
        `<< /Type /Page /Parent ${pages} 0 R /MediaBox [0 0 ${PAGE.width} ${PAGE.height}] /Resources ${resources} 0 R /Contents ${content} 0 R >>`,
      );
    });
    writer.set(pages, `<< /Type /Pages /Kids [${kids.map((kid) => `${kid} 0 R`).join(" ")}] /Count ${kids.length} >>`);
    writer.set(catalog, `<< /Type /Catalog /Pages ${pages} 0 R >>`);
    const infoString = (text: string) => pdfString(winAnsiEncode(text));
    const infoRef = writer.add(
      `<< /Title ${infoString(info.title)} /Author ${infoString(info.author)} /Subject ${infoString(info.subject)} /Producer (ordermesh) /CreationDate (${pdfDate(info.creationDate)}) >>`,
    );
    return writer.finish({ root: catalog, info: infoRef });
  }

  get #current(): string[] {
    return this.#pages[this.#pages.length - 1];
  }
}
