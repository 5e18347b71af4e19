import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import type { InvoiceAddress, InvoiceLine } from "./domain/invoice.js";

/** A stored object: an upload or a generated invoice (see migrations/0001 for the constraints). */
export const FileMetadata = defineEntity({
  name: "FileMetadata",
  tableName: "file_metadata",
  properties: {
    id: p.uuid().primary(),
    kind: p.enum(["UPLOAD", "INVOICE"] as const),
    fileName: p.text().fieldName("file_name"),
    contentType: p.text().fieldName("content_type"),
    sizeBytes: p.bigint("number").fieldName("size_bytes"),
    /** Lower-case hex SHA-256 of the content. */
    sha256: p.character().length(64),
    orderId: p.uuid().nullable().fieldName("order_id"),
    customerId: p.text().nullable().fieldName("customer_id"),
    /** Object key in the bucket; generated, never derived from the user's file name. */
    storageKey: p.text().unique().fieldName("storage_key"),
    createdAt: p.datetime().fieldName("created_at").onCreate(() => new Date()),
  },
});

/**
 * What an invoice needs from order.created and payment.completed does not carry: the lines with
 * names and prices, the total, the customer and the shipping address, as the order was placed.
 */
export const OrderSnapshot = defineEntity({
  name: "OrderSnapshot",
  tableName: "order_snapshots",
  properties: {
    orderId: p.uuid().primary().fieldName("order_id"),
    customerId: p.text().fieldName("customer_id"),
    customerName: p.text().fieldName("customer_name"),
    customerEmail: p.text().fieldName("customer_email"),
    currencyCode: p.character().length(3).fieldName("currency_code"),
    totalMinor: p.bigint("number").fieldName("total_minor"),
    lines: p.json<InvoiceLine[]>(),
    shippingAddress: p.json<InvoiceAddress>().nullable().fieldName("shipping_address"),
    orderedAt: p.datetime().fieldName("ordered_at"),
    createdAt: p.datetime().fieldName("created_at").onCreate(() => new Date()),
  },
});

export type FileRow = InferEntity<typeof FileMetadata>;
export type OrderSnapshotRow = InferEntity<typeof OrderSnapshot>;

export const entities = [FileMetadata, OrderSnapshot];
