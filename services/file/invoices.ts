import { createHash } from "node:crypto";
import { LockMode } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/postgresql";
import type { OrderCreated } from "../../gen/shop/events/v1/order_events_pb.js";
import type { PaymentCompleted } from "../../gen/shop/events/v1/payment_events_pb.js";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { type EventContext, PermanentError } from "../../lib/events/index.js";
import { uuidv7 } from "../../lib/ids.js";
import type { Invoice, InvoiceAddress, InvoiceLine } from "./domain/invoice.js";
import { FileMetadata, type FileRow, OrderSnapshot, type OrderSnapshotRow } from "./entities.js";
import { publishInvoiceGenerated } from "./events.js";
import { renderInvoicePdf } from "./invoice-pdf.js";
import type { ObjectStore } from "./storage.js";

/** The deterministic key of an order's invoice: every attempt for the order writes this one object. */
export function invoiceKey(orderId: string): string {
  return `invoices/${orderId}.pdf`;
}

function money(amountMinor: bigint | undefined, field: string): number {
  const value = amountMinor ?? 0n;
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) throw new PermanentError(`event has an invalid ${field}: ${value}`);
  return Number(value);
}

/**
 * Keeps what the invoice of `event`'s order will need. Idempotent per order: a second
 * order.created for the same order (another event id) leaves the first snapshot alone.
 */
export async function saveOrderSnapshot(em: EntityManager, orderId: string, event: OrderCreated): Promise<void> {
  const lines: InvoiceLine[] = event.lines.map((line, i) => ({
    productId: line.productId,
    name: line.productName,
    quantity: line.quantity,
    unitPriceMinor: money(line.unitPrice?.amountMinor, `lines[${i}].unit_price`),
  }));
  if (lines.some((line) => !Number.isInteger(line.quantity) || line.quantity < 1)) throw new PermanentError("event has a line with a quantity below 1");
  const currencyCode = event.total?.currencyCode || event.lines.find((l) => l.unitPrice?.currencyCode)?.unitPrice?.currencyCode || "";
  if (!/^[A-Z]{3}$/.test(currencyCode)) throw new PermanentError(`event has no valid currency code ("${currencyCode}")`);
  const address = event.shippingAddress;
  const shippingAddress: InvoiceAddress | null = address
    ? {
        recipientName: address.recipientName,
        line1: address.line1,
        line2: address.line2,
        city: address.city,
        region: address.region,
        postalCode: address.postalCode,
        countryCode: address.countryCode,
      }
    : null;
  await em
    .createQueryBuilder(OrderSnapshot)
    .insert({
      orderId,
      customerId: event.customerId,
      customerName: event.customerName,
      customerEmail: event.customerEmail,
      currencyCode,
      totalMinor: event.total ? money(event.total.amountMinor, "total") : lines.reduce((sum, l) => sum + l.unitPriceMinor * l.quantity, 0),
      lines,
      shippingAddress,
      orderedAt: event.occurredAt ? timestampDate(event.occurredAt) : new Date(),
      createdAt: new Date(),
    })
    .onConflict("order_id")
    .ignore()
    .execute();
}

export function invoiceOf(snapshot: OrderSnapshotRow, payment: PaymentCompleted): Invoice {
  return {
    orderId: snapshot.orderId,
    customerId: snapshot.customerId || payment.customerId,
    customerName: snapshot.customerName,
    customerEmail: snapshot.customerEmail,
    issuedAt: payment.occurredAt ? timestampDate(payment.occurredAt) : new Date(),
    currencyCode: snapshot.currencyCode,
    lines: snapshot.lines,
    totalMinor: snapshot.totalMinor,
    shippingAddress: snapshot.shippingAddress ?? undefined,
    paymentId: payment.paymentId,
    cardLast4: /^\d{4}$/.test(payment.cardLast4) ? payment.cardLast4 : "",
    paidMinor: payment.amount && payment.amount.currencyCode === snapshot.currencyCode ? money(payment.amount.amountMinor, "amount") : undefined,
  };
}

export type InvoiceOutcome = { kind: "generated"; file: FileRow } | { kind: "existing"; file: FileRow };

/**
 * Generates the invoice of a paid order, at most once per order, inside the consumer's
 * transaction `em`:
 * 1. lock the order's snapshot (missing: order.created is not handled yet, so throw to retry);
 *    the lock also serializes two replicas handling payment events of the same order;
 * 2. if the order has an invoice, do nothing (a redelivery, or a second payment event);
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
  payment: PaymentCompleted,
): Promise<InvoiceOutcome> {
  const snapshot = await em.findOne(OrderSnapshot, { orderId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
  if (!snapshot) throw new Error(`no order snapshot for order ${orderId} yet: order.created has not been handled`);
  const existing = await em.findOne(FileMetadata, { orderId, kind: "INVOICE" });
  if (existing) {
    logger.info({ file_id: existing.id }, "order already has an invoice");
    return { kind: "existing", file: existing };
  }

  const pdf = await renderInvoicePdf(invoiceOf(snapshot, payment));
  const sha256 = createHash("sha256").update(pdf).digest("hex");
  const storageKey = invoiceKey(orderId);
  const id = uuidv7();
  await store.put(storageKey, pdf, { contentType: "application/pdf", metadata: { "file-id": id, "order-id": orderId, kind: "invoice", sha256 } });
  const file = em.create(FileMetadata, {
    id,
    kind: "INVOICE",
    fileName: `invoice-${orderId}.pdf`,
    contentType: "application/pdf",
    sizeBytes: pdf.length,
    sha256,
    orderId,
    customerId: snapshot.customerId || payment.customerId || null,
    storageKey,
    createdAt: new Date(),
  });
  await em.flush();
  await publishInvoiceGenerated(publish, { ...file, orderId });
  logger.info({ file_id: id, size_bytes: pdf.length }, "invoice generated");
  return { kind: "generated", file };
}
