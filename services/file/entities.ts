import { defineEntity, type InferEntity, p } from "@mikro-orm/core";
import { createdAtColumn } from "../../lib/db/timestamps.js";

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
    createdAt: createdAtColumn(),
  },
});

export type FileRow = InferEntity<typeof FileMetadata>;

export const entities = [FileMetadata];
