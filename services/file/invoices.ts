import { createHash } from "node:crypto";
import type { OrderConfirmed } from "../../gen/shop/events/v1/order_events_pb.js";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type EventContext, PermanentError } from "../../lib/events/index.js";
import { sql } from "../../lib/db/index.js";
import { uuidv7 } from "../../lib/ids.js";
import type { Money } from "../../lib/money.js";
import { type Invoice, type InvoiceAddress, type InvoiceLine, subtotalMinor } from "./domain/invoice.js";
import type { FileRow } from "./entities.js";
import { publishInvoiceGenerated } from "./events.js";
import { renderInvoicePdf } from "./invoice-pdf.js";
import type { ObjectStore } from "./storage.js";

/** The deterministic key of an order's invoice: every attempt for the order writes this one object. */
export function invoiceKey(orderId: string): string {
  return `invoices/${orderId}.pdf`;
}

/** The minor units of an amount of the event (none: 0); a negative one can be on no invoice. */
function minorOf(amount: Money | undefined, field: string): bigint {
  const value = amount?.amountMinor ?? 0n;
  if (value < 0n) throw new PermanentError(`event has an invalid ${field}: ${value}`);
  return value;
}

/**
 * The invoice of a confirmed order, entirely from its order.confirmed: lines with names and
 * prices, total, customer, address and payment. Throws PermanentError for an event no invoice
 * can be made from.
 */
export function invoiceOf(event: OrderConfirmed): Invoice {
  const lines: InvoiceLine[] = event.lines.map((line, i) => ({
    productId: line.productId,
    name: line.productName,
    quantity: line.quantity,
    unitPriceMinor: minorOf(line.unitPrice, `lines[${i}].unit_price`),
  }));
  if (lines.length === 0) throw new PermanentError("order.confirmed has no lines");
  if (lines.some((line) => !Number.isInteger(line.quantity) || line.quantity < 1)) throw new PermanentError("event has a line with a quantity below 1");
  const currencyCode = event.total?.currencyCode || event.lines.find((l) => l.unitPrice?.currencyCode)?.unitPrice?.currencyCode || "";
  if (!/^[A-Z]{3}$/.test(currencyCode)) throw new PermanentError(`event has no valid currency code ("${currencyCode}")`);
  const address = event.shippingAddress;
  const shippingAddress: InvoiceAddress | undefined = address
    ? {
        recipientName: address.recipientName,
        line1: address.line1,
        line2: address.line2,
        city: address.city,
        region: address.region,
        postalCode: address.postalCode,
        countryCode: address.countryCode,
      }
    : undefined;
  const totalMinor = event.total ? minorOf(event.total, "total") : subtotalMinor(lines);
  return {
    orderId: event.orderId,
    customerId: event.customerId,
    customerName: event.customerName,
    customerEmail: event.customerEmail,
    issuedAt: event.occurredAt ? timestampDate(event.occurredAt) : new Date(),
    currencyCode,
    lines,
    totalMinor,
    shippingAddress,
    paymentId: event.paymentId,
    cardLast4: /^\d{4}$/.test(event.cardLast4) ? event.cardLast4 : "",
    // CONFIRMED means the order's total was charged.
    paidMinor: totalMinor,
  };
}

export type InvoiceOutcome = { kind: "generated"; file: FileRow } | { kind: "existing"; file: FileRow };

const FILE_COLUMNS = "id, kind, file_name, content_type, size_bytes, sha256, order_id, customer_id, storage_key, created_at";

function toFileMetadata(row: Record<string, unknown>): FileRow {
  return {
    id: String(row.id),
    kind: row.kind as FileRow["kind"],
    fileName: String(row.file_name),
    contentType: String(row.content_type),
    sizeBytes: Number(row.size_bytes),
    sha256: String(row.sha256),
    orderId: row.order_id == null ? null : String(row.order_id),
    customerId: row.customer_id == null ? null : String(row.customer_id),
    storageKey: String(row.storage_key),
    createdAt: new Date(row.created_at as Date),
  };
}

/**
 * Generates the invoice of a confirmed order, at most once per order, inside the consumer's
 * transaction `em`. Only order.confirmed leads here: an order that was never confirmed (rejected,
 * payment failed, cancelled or expired before payment) gets no invoice, whatever the order its
 * events arrive in, and every confirmed order gets exactly one.
 * 1. take the order's invoice lock, which serializes two replicas handling events of one order;
 * 2. if the order has an invoice, do nothing (a redelivery, or a repeated event);
 * 3. render the PDF, store it at `invoices/<order_id>.pdf`, insert its file_metadata row and
 *    enqueue file.invoice_generated; all of it commits together with the processed event.
 *
 * The object is written before the commit. If the process dies or the commit fails after the
 * PUT, the event is redelivered and the next attempt renders the same invoice to the same key,
 * overwriting the object rather than adding one: the object left behind by a failed attempt is
 * never an orphan, and the row that finally commits describes the bytes under its key (the
 * unique index on (order_id) WHERE kind = 'INVOICE' guards the "once" in any case).
 */
export async function generateInvoice(
  { em, logger, publish }: Pick<EventContext, "em" | "logger" | "publish">,
  store: ObjectStore,
  orderId: string,
  confirmed: OrderConfirmed,
): Promise<InvoiceOutcome> {
  // Plain SQL on this path: it runs once per confirmed order.
  await sql(em, "SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", [`invoice:${orderId}`]);
  const [found] = await sql(em, `SELECT ${FILE_COLUMNS} FROM file_metadata WHERE order_id = ? AND kind = 'INVOICE'`, [orderId]);
  if (found) {
    const existing = toFileMetadata(found);
    logger.info({ file_id: existing.id }, "order already has an invoice");
    return { kind: "existing", file: existing };
  }

  const invoice = invoiceOf(confirmed);
  const pdf = renderInvoicePdf({ ...invoice, orderId });
  const sha256 = createHash("sha256").update(pdf).digest("hex");
  const storageKey = invoiceKey(orderId);
  const id = uuidv7();
  await store.put(storageKey, pdf, { contentType: "application/pdf", metadata: { "file-id": id, "order-id": orderId, kind: "invoice", sha256 } });
  const [row] = await sql(
    em,
    `INSERT INTO file_metadata (id, kind, file_name, content_type, size_bytes, sha256, order_id, customer_id, storage_key)
     VALUES (?, 'INVOICE', ?, 'application/pdf', ?, ?, ?, ?, ?) RETURNING ${FILE_COLUMNS}`,
    [id, `invoice-${orderId}.pdf`, pdf.length, sha256, orderId, invoice.customerId || null, storageKey],
  );
  const file = toFileMetadata(row);
  await publishInvoiceGenerated(publish, { ...file, orderId });
  logger.info({ file_id: id, size_bytes: pdf.length }, "invoice generated");
  return { kind: "generated", file };
}
