import { createHash } from "node:crypto";
import type { OrderConfirmed } from "../../gen/shop/events/v1/order_events_pb.js";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { EntityManager } from "@mikro-orm/postgresql";
import { type EventContext, PermanentError, requireOrderId } from "../../lib/events/index.js";
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

/** What `announceInvoice` did for an event: published the invoice its batch generated, or nothing (the order had one). */
export type InvoiceOutcome = { kind: "generated"; file: FileRow } | { kind: "existing" };

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

/** The invoices a batch's claim inserted, by order id, until its handlers announce them. */
const claimedInvoices = new WeakMap<EntityManager, Map<string, FileRow>>();

/**
 * Generates the invoices of a batch of order.confirmed events inside the consumer's transaction
 * `em` (its beforeBatch), at most one per order. Only order.confirmed leads here: an order that
 * was never confirmed (rejected, payment failed, cancelled or expired before payment) gets no
 * invoice, whatever the order its events arrive in, and every confirmed order gets exactly one.
 * 1. render each order's PDF (the first event of an order in the batch; an event no invoice can
 *    be made from throws PermanentError, and the batch falls back to one event at a time);
 * 2. insert all their file_metadata rows in one statement, ON CONFLICT DO NOTHING: the unique
 *    index on (order_id) WHERE kind = 'INVOICE' is the one place that decides, and its lock
 *    makes a second replica inserting the same order wait for the first to commit or roll back.
 *    Orders that already have an invoice (a repeated event) insert nothing and are done;
 * 3. store the PDFs of the inserted rows at `invoices/<order_id>.pdf`; each event's handler then
 *    enqueues file.invoice_generated (`announceInvoice`), and all of it commits with the
 *    batch's processed events.
 *
 * Rows are inserted in order id order, so two batches sharing orders cannot deadlock. The
 * objects are written before the commit. If the process dies or the commit fails after a PUT,
 * the events are redelivered and the next attempt renders the same invoice to the same key,
 * overwriting the object rather than adding one: the object left behind by a failed attempt is
 * never an orphan, and the row that finally commits describes the bytes under its key.
 */
export async function claimInvoices(em: EntityManager, store: ObjectStore, events: readonly OrderConfirmed[]): Promise<void> {
  const drafts = new Map<string, { id: string; orderId: string; customerId: string | null; pdf: Buffer; sha256: string }>();
  for (const event of events) {
    const orderId = requireOrderId(event.orderId);
    if (drafts.has(orderId)) continue;
    const invoice = invoiceOf(event);
    const pdf = renderInvoicePdf({ ...invoice, orderId });
    drafts.set(orderId, { id: uuidv7(), orderId, customerId: invoice.customerId || null, pdf, sha256: createHash("sha256").update(pdf).digest("hex") });
  }
  const list = [...drafts.values()];
  const rows = await sql(
    em,
    `INSERT INTO file_metadata (id, kind, file_name, content_type, size_bytes, sha256, order_id, customer_id, storage_key)
     SELECT id, 'INVOICE', file_name, 'application/pdf', size_bytes, sha256, order_id, customer_id, storage_key
     FROM unnest(?::uuid[], ?::text[], ?::bigint[], ?::text[], ?::uuid[], ?::text[], ?::text[])
       AS claim(id, file_name, size_bytes, sha256, order_id, customer_id, storage_key)
     ORDER BY order_id
     ON CONFLICT DO NOTHING
     RETURNING ${FILE_COLUMNS}`,
    [
      list.map((d) => d.id),
      list.map((d) => `invoice-${d.orderId}.pdf`),
      list.map((d) => d.pdf.length),
      list.map((d) => d.sha256),
      list.map((d) => d.orderId),
      list.map((d) => d.customerId),
      list.map((d) => invoiceKey(d.orderId)),
    ],
  );
  const claimed = new Map(rows.map((row) => [String(row.order_id), toFileMetadata(row)]));
  // Every PUT settles before the batch goes on or rolls back: none is left running into a retry.
  const puts = await Promise.allSettled(
    [...claimed.values()].map((file) =>
      store.put(file.storageKey, drafts.get(file.orderId!)!.pdf, {
        contentType: "application/pdf",
        metadata: { "file-id": file.id, "order-id": file.orderId!, kind: "invoice", sha256: file.sha256 },
      }),
    ),
  );
  const failed = puts.find((put) => put.status === "rejected");
  if (failed) throw failed.reason;
  claimedInvoices.set(em, claimed);
}

/**
 * The handler's part for one order.confirmed, after `claimInvoices` ran for its batch on `em`:
 * enqueues file.invoice_generated for the invoice the batch generated for the order, once. An
 * order whose invoice existed before (or was announced for an earlier event of the batch) gets
 * nothing more.
 */
export async function announceInvoice({ em, logger, publish }: Pick<EventContext, "em" | "logger" | "publish">, orderId: string): Promise<InvoiceOutcome> {
  const claimed = claimedInvoices.get(em);
  const file = claimed?.get(orderId);
  if (!file) {
    logger.info("order already has an invoice");
    return { kind: "existing" };
  }
  claimed!.delete(orderId);
  await publishInvoiceGenerated(publish, { ...file, orderId });
  logger.info({ file_id: file.id, size_bytes: file.sizeBytes }, "invoice generated");
  return { kind: "generated", file };
}
