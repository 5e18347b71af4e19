import { deflateSync } from "node:zlib";

/**
 * Assembles a PDF file from numbered objects: the header, each object as `N 0 obj ... endobj`,
 * the cross-reference table with every object's byte offset, and the trailer. It knows nothing
 * about pages or text; callers write object bodies in PDF syntax (see `pdfString`, `pdfNumber`).
 * Object bodies are Latin-1 strings: one character per byte.
 */
export class PdfWriter {
  // Index i holds object number i + 1; undefined while reserved but not yet written.
  readonly #objects: (string | undefined)[] = [];

  /** A new object number, for an object that others must refer to before it can be written. */
  reserve(): number {
    this.#objects.push(undefined);
    return this.#objects.length;
  }

  /** Writes object `ref` (from `reserve`); `body` is what goes between `obj` and `endobj`. */
  set(ref: number, body: string): void {
    if (ref < 1 || ref > this.#objects.length) throw new RangeError(`object ${ref} was not reserved`);
    this.#objects[ref - 1] = body;
  }

  /** Adds an object; returns its number. */
  add(body: string): number {
    const ref = this.reserve();
    this.set(ref, body);
    return ref;
  }

  /** Adds a stream object of `data` (Flate-compressed when `compress`), `dict` being its extra dictionary entries. */
  addStream(data: Buffer, { compress, dict = "" }: { compress: boolean; dict?: string }): number {
    const bytes = compress ? deflateSync(data) : data;
    const filter = compress ? " /Filter /FlateDecode" : "";
    return this.add(`<< /Length ${bytes.length}${filter}${dict ? ` ${dict}` : ""} >>\nstream\n${bytes.toString("latin1")}\nendstream`);
  }

  /** The file, with `root` as its catalog and `info` as its document information dictionary. */
  finish({ root, info }: { root: number; info?: number }): Buffer {
    // The comment of high bytes tells transfer tools the file is binary.
    const parts = ["%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"];
    let offset = parts[0].length;
    const offsets: number[] = [];
    this.#objects.forEach((body, i) => {
      if (body === undefined) throw new Error(`object ${i + 1} was reserved but never written`);
      const object = `${i + 1} 0 obj\n${body}\nendobj\n`;
      offsets.push(offset);
      parts.push(object);
      offset += object.length;
    });
    // Each entry is exactly 20 bytes: 10-digit offset, 5-digit generation, type, two-byte EOL.
    const xref = [`xref\n0 ${offsets.length + 1}\n`, "0000000000 65535 f \n", ...offsets.map((o) => `${String(o).padStart(10, "0")} 00000 n \n`)];
    const trailer = `trailer\n<< /Size ${offsets.length + 1} /Root ${root} 0 R${info ? ` /Info ${info} 0 R` : ""} >>\nstartxref\n${offset}\n%%EOF\n`;
    return Buffer.from([...parts, ...xref, trailer].join(""), "latin1");
  }
}

/** A number as PDF writes it: at most two decimals, no exponent, no trailing zeros. */
export function pdfNumber(value: number): string {
  const rounded = Math.round(value * 100) / 100;
  return Object.is(rounded, -0) ? "0" : String(rounded);
}

/**
 * A PDF literal string of bytes (WinAnsi-encoded text, or ASCII): backslash and both parentheses
 * escaped, and every byte outside printable ASCII written as an octal escape, so user input can
 * neither end the string early nor smuggle operators into the content stream.
 */
export function pdfString(bytes: Uint8Array): string {
  let out = "(";
  for (const byte of bytes) {
    if (byte === 0x5c || byte === 0x28 || byte === 0x29) out += `\\${String.fromCharCode(byte)}`;
    else if (byte < 0x20 || byte > 0x7e) out += `\\${byte.toString(8).padStart(3, "0")}`;
    else out += String.fromCharCode(byte);
  }
  return `${out})`;
}

/** A PDF date string (D:YYYYMMDDHHmmSSZ) of `date` in UTC. */
export function pdfDate(date: Date): string {
  return `D:${date.toISOString().replace(/[-:T]/g, "").slice(0, 14)}Z`;
}
