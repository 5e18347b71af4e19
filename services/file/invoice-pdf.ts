import PDFDocument from "pdfkit";
import { formatMoney } from "../../lib/money.js";
import { addressLines, type Invoice, lineTotalMinor, subtotalMinor } from "./domain/invoice.js";

/**
 * Renders an invoice as a PDF (A4, the standard Helvetica fonts) into a Buffer. No I/O besides
 * pdfkit's in-memory stream, and deterministic: the document date is the invoice date, so the
 * same invoice always renders to the same bytes (a retried generation stores the same object).
 */
export function renderInvoicePdf(invoice: Invoice, options: { compress?: boolean } = {}): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const doc = new PDFDocument({
      size: "A4",
      margin: MARGIN,
      compress: options.compress ?? true,
      info: {
        Title: `Invoice for order ${invoice.orderId}`,
        Author: "ordermesh",
        Subject: `Order ${invoice.orderId}`,
        CreationDate: invoice.issuedAt,
      },
    });
    const chunks: Buffer[] = [];
    doc.on("data", (chunk: Buffer) => chunks.push(chunk));
    doc.on("end", () => resolve(Buffer.concat(chunks)));
    doc.on("error", reject);
    try {
      layout(doc, invoice);
      doc.end();
    } catch (error) {
      reject(error as Error);
    }
  });
}

const MARGIN = 50;
const PAGE_WIDTH = 595.28; // A4 in points
const CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN;
const ROW_HEIGHT = 18;
const MAX_NAME_LENGTH = 60;

/** Table columns: x offset from the margin, width, alignment. */
const COLUMNS = {
  item: { x: 0, width: 250, align: "left" },
  quantity: { x: 255, width: 50, align: "right" },
  unitPrice: { x: 310, width: 90, align: "right" },
  amount: { x: 405, width: CONTENT_WIDTH - 405, align: "right" },
} as const;

type Doc = InstanceType<typeof PDFDocument>;

function layout(doc: Doc, invoice: Invoice): void {
  const money = (minor: bigint) => formatMoney(minor, invoice.currencyCode);

  doc.font("Helvetica-Bold").fontSize(22).text("INVOICE", MARGIN, MARGIN);
  doc.font("Helvetica").fontSize(10).moveDown(0.5);
  field(doc, "Order", invoice.orderId);
  field(doc, "Date", invoice.issuedAt.toISOString().slice(0, 10));
  if (invoice.paymentId) field(doc, "Payment", invoice.paymentId);
  if (invoice.cardLast4) field(doc, "Card", `**** ${invoice.cardLast4}`);

  const blockTop = doc.y + 15;
  const billTo = [invoice.customerName, invoice.customerEmail, invoice.customerId ? `Customer ${invoice.customerId}` : ""].filter(Boolean);
  const billBottom = block(doc, "Bill to", billTo, MARGIN, blockTop);
  const shipBottom = invoice.shippingAddress ? block(doc, "Ship to", addressLines(invoice.shippingAddress), MARGIN + CONTENT_WIDTH / 2, blockTop) : blockTop;

  let y = Math.max(billBottom, shipBottom) + 20;
  y = row(doc, y, { item: "Item", quantity: "Qty", unitPrice: "Unit price", amount: "Amount" }, true);
  for (const line of invoice.lines) {
    y = ensureRoom(doc, y);
    y = row(doc, y, {
      item: truncate(line.name || line.productId),
      quantity: String(line.quantity),
      unitPrice: money(line.unitPriceMinor),
      amount: money(lineTotalMinor(line)),
    });
  }

  y = ensureRoom(doc, y + 6, 4 * ROW_HEIGHT);
  doc
    .moveTo(MARGIN, y)
    .lineTo(MARGIN + CONTENT_WIDTH, y)
    .stroke();
  y += 6;
  const subtotal = subtotalMinor(invoice.lines);
  if (subtotal !== invoice.totalMinor) y = total(doc, y, "Subtotal", money(subtotal));
  y = total(doc, y, "Total", money(invoice.totalMinor), true);
  if (invoice.paidMinor !== undefined) total(doc, y, "Paid", money(invoice.paidMinor));
}

function field(doc: Doc, label: string, value: string): void {
  doc.font("Helvetica-Bold").text(`${label}: `, { continued: true }).font("Helvetica").text(value);
}

/** A titled block of lines at (x, y); returns the y below it. */
function block(doc: Doc, title: string, lines: string[], x: number, y: number): number {
  doc
    .font("Helvetica-Bold")
    .fontSize(11)
    .text(title, x, y, { width: CONTENT_WIDTH / 2 - 10 });
  doc.font("Helvetica").fontSize(10);
  for (const line of lines) doc.text(truncate(line), x, doc.y, { width: CONTENT_WIDTH / 2 - 10, lineBreak: false });
  return doc.y;
}

function row(doc: Doc, y: number, cells: Record<keyof typeof COLUMNS, string>, header = false): number {
  doc.font(header ? "Helvetica-Bold" : "Helvetica").fontSize(10);
  for (const [key, column] of Object.entries(COLUMNS) as [keyof typeof COLUMNS, (typeof COLUMNS)[keyof typeof COLUMNS]][]) {
    doc.text(cells[key], MARGIN + column.x, y, { width: column.width, align: column.align, lineBreak: false });
  }
  return y + ROW_HEIGHT;
}

function total(doc: Doc, y: number, label: string, value: string, bold = false): number {
  doc.font(bold ? "Helvetica-Bold" : "Helvetica").fontSize(bold ? 12 : 10);
  doc.text(label, MARGIN + COLUMNS.unitPrice.x, y, { width: COLUMNS.unitPrice.width, align: "right", lineBreak: false });
  doc.text(value, MARGIN + COLUMNS.amount.x, y, { width: COLUMNS.amount.width, align: "right", lineBreak: false });
  return y + ROW_HEIGHT;
}

/** Starts a new page when fewer than `needed` points are left above the bottom margin. */
function ensureRoom(doc: Doc, y: number, needed = ROW_HEIGHT): number {
  if (y + needed <= doc.page.height - MARGIN) return y;
  doc.addPage();
  return MARGIN;
}

function truncate(text: string): string {
  const chars = [...text];
  return chars.length > MAX_NAME_LENGTH ? `${chars.slice(0, MAX_NAME_LENGTH - 1).join("")}…` : text;
}
