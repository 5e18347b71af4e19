import { formatMoney } from "../../lib/money.js";
import { addressLines, type Invoice, lineTotalMinor, subtotalMinor } from "./domain/invoice.js";
import { PAGE, PdfDocument } from "./pdf-document.js";
import type { FontName } from "./pdf-fonts.js";

/**
 * Renders an invoice as a PDF (A4, the standard Helvetica fonts) into a Buffer. Pure and
 * deterministic: the document date is the invoice date, so the same invoice always renders to
 * the same bytes (a retried generation stores the same object).
 */
export function renderInvoicePdf(invoice: Invoice, options: { compress?: boolean } = {}): Buffer {
  const doc = new PdfDocument();
  layout(doc, invoice);
  return doc.render(
    { title: `Invoice for order ${invoice.orderId}`, author: "ordermesh", subject: `Order ${invoice.orderId}`, creationDate: invoice.issuedAt },
    { compress: options.compress ?? true },
  );
}

const MARGIN = 50;
const CONTENT_WIDTH = PAGE.width - 2 * MARGIN;
const ROW_HEIGHT = 18;
const MAX_NAME_LENGTH = 60;
const REGULAR: FontName = "Helvetica";
const BOLD: FontName = "Helvetica-Bold";

/** Table columns: x offset from the margin, width, alignment. */
const COLUMNS = {
  item: { x: 0, width: 250, align: "left" },
  quantity: { x: 255, width: 50, align: "right" },
  unitPrice: { x: 310, width: 90, align: "right" },
  amount: { x: 405, width: CONTENT_WIDTH - 405, align: "right" },
} as const;

function layout(doc: PdfDocument, invoice: Invoice): void {
  const money = (minor: bigint) => formatMoney(minor, invoice.currencyCode);

  doc.text("INVOICE", MARGIN, MARGIN, { font: BOLD, size: 22 });
  // Half a line of body text below the title.
  let y = MARGIN + PdfDocument.lineHeight(BOLD, 22) + PdfDocument.lineHeight(REGULAR, 10) / 2;
  y = field(doc, y, "Order", invoice.orderId);
  y = field(doc, y, "Date", invoice.issuedAt.toISOString().slice(0, 10));
  if (invoice.paymentId) y = field(doc, y, "Payment", invoice.paymentId);
  if (invoice.cardLast4) y = field(doc, y, "Card", `**** ${invoice.cardLast4}`);

  const blockTop = y + 15;
  const billTo = [invoice.customerName, invoice.customerEmail, invoice.customerId ? `Customer ${invoice.customerId}` : ""].filter(Boolean);
  const billBottom = block(doc, "Bill to", billTo, MARGIN, blockTop);
  const shipBottom = invoice.shippingAddress ? block(doc, "Ship to", addressLines(invoice.shippingAddress), MARGIN + CONTENT_WIDTH / 2, blockTop) : blockTop;

  y = Math.max(billBottom, shipBottom) + 20;
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
  doc.horizontalLine(MARGIN, MARGIN + CONTENT_WIDTH, y);
  y += 6;
  const subtotal = subtotalMinor(invoice.lines);
  if (subtotal !== invoice.totalMinor) y = total(doc, y, "Subtotal", money(subtotal));
  y = total(doc, y, "Total", money(invoice.totalMinor), true);
  if (invoice.paidMinor !== undefined) total(doc, y, "Paid", money(invoice.paidMinor));
}

/** "Label: value" on one line at y, the label bold; returns the y of the next line. */
function field(doc: PdfDocument, y: number, label: string, value: string): number {
  const labelWidth = doc.text(`${label}: `, MARGIN, y, { font: BOLD, size: 10 });
  doc.text(truncate(value), MARGIN + labelWidth, y, { font: REGULAR, size: 10 });
  return y + PdfDocument.lineHeight(REGULAR, 10);
}

/** A titled block of lines at (x, y); returns the y below it. */
function block(doc: PdfDocument, title: string, lines: string[], x: number, y: number): number {
  doc.text(title, x, y, { font: BOLD, size: 11 });
  y += PdfDocument.lineHeight(BOLD, 11);
  for (const line of lines) {
    doc.text(truncate(line), x, y, { font: REGULAR, size: 10 });
    y += PdfDocument.lineHeight(REGULAR, 10);
  }
  return y;
}

function row(doc: PdfDocument, y: number, cells: Record<keyof typeof COLUMNS, string>, header = false): number {
  for (const [key, column] of Object.entries(COLUMNS) as [keyof typeof COLUMNS, (typeof COLUMNS)[keyof typeof COLUMNS]][]) {
    doc.text(cells[key], MARGIN + column.x, y, { font: header ? BOLD : REGULAR, size: 10, width: column.width, align: column.align });
  }
  return y + ROW_HEIGHT;
}

function total(doc: PdfDocument, y: number, label: string, value: string, bold = false): number {
  const style = { font: bold ? BOLD : REGULAR, size: bold ? 12 : 10, align: "right" } as const;
  doc.text(label, MARGIN + COLUMNS.unitPrice.x, y, { ...style, width: COLUMNS.unitPrice.width });
  doc.text(value, MARGIN + COLUMNS.amount.x, y, { ...style, width: COLUMNS.amount.width });
  return y + ROW_HEIGHT;
}

/** Starts a new page when fewer than `needed` points are left above the bottom margin. */
function ensureRoom(doc: PdfDocument, y: number, needed = ROW_HEIGHT): number {
  if (y + needed <= PAGE.height - MARGIN) return y;
  doc.addPage();
  return MARGIN;
}

function truncate(text: string): string {
  const chars = [...text];
  return chars.length > MAX_NAME_LENGTH ? `${chars.slice(0, MAX_NAME_LENGTH - 1).join("")}…` : text;
}
