import { type MessageInitShape } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { FileInvoiceGeneratedSchema } from "../../gen/shop/events/v1/file_events_pb.js";
import type { EventContext } from "../../lib/events/index.js";
import type { FileRow } from "./entities.js";

/** The file events, written to the outbox of the caller's transaction through `publish`. */

export function publishInvoiceGenerated(publish: EventContext["publish"], file: FileRow & { orderId: string }): Promise<string> {
  const event: MessageInitShape<typeof FileInvoiceGeneratedSchema> = {
    orderId: file.orderId,
    customerId: file.customerId ?? "",
    occurredAt: timestampNow(),
    fileId: file.id,
    storageKey: file.storageKey,
    sizeBytes: BigInt(file.sizeBytes),
    sha256: file.sha256,
  };
  return publish(FileInvoiceGeneratedSchema, event, { aggregateId: file.orderId });
}
