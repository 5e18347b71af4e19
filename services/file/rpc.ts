import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { MikroORM } from "@mikro-orm/postgresql";
import { type FileInfoSchema, FileKind, type FileService, type UploadMetadata, type UploadRequest } from "../../gen/shop/file/v1/file_pb.js";
import { Code, invalidArgument, notFound, ServiceError } from "../../lib/errors.js";
import type { CallContext, ServiceImplementation } from "../../lib/grpc/index.js";
import { uuidv7 } from "../../lib/ids.js";
import { decodePageToken, nextPage, pageSize } from "../../lib/paging.js";
import { requireId } from "../../lib/validate.js";
import { DEFAULT_CONTENT_TYPE, fileNameProblem, mediaTypeOf } from "./domain/upload-rules.js";
import { FileMetadata, type FileRow } from "./entities.js";
import type { ObjectStore } from "./storage.js";

/** Download chunk size. */
export const CHUNK_BYTES = 64 * 1024;
/** The largest chunk an Upload message may carry (file.proto). */
export const MAX_UPLOAD_CHUNK_BYTES = 1024 * 1024;

export interface FileRpcOptions {
  orm: MikroORM;
  store: ObjectStore;
  /** Uploads above this size are refused. They are buffered in memory, so keep it modest. */
  maxFileBytes: number;
  /** Media types an upload may have (lower case, no parameters). */
  allowedContentTypes: readonly string[];
}

const KIND = { UPLOAD: FileKind.UPLOAD, INVOICE: FileKind.INVOICE } as const;

/** Proto view of a file_metadata row. */
export function toFileInfo(file: FileRow): MessageInitShape<typeof FileInfoSchema> {
  return {
    id: file.id,
    fileName: file.fileName,
    contentType: file.contentType,
    sizeBytes: BigInt(file.sizeBytes),
    sha256: file.sha256,
    orderId: file.orderId ?? "",
    customerId: file.customerId ?? "",
    kind: KIND[file.kind],
    storageKey: file.storageKey,
    createdAt: timestampFromDate(file.createdAt),
  };
}

interface ValidUpload {
  fileName: string;
  contentType: string;
  orderId: string | null;
  customerId: string | null;
}

/** gRPC handlers of FileService: uploads and downloads streamed through, metadata from PostgreSQL. */
export function fileRpc({ orm, store, maxFileBytes, allowedContentTypes }: FileRpcOptions): ServiceImplementation<typeof FileService> {
  const allowed = new Set(allowedContentTypes);

  function validateMetadata(metadata: UploadMetadata): ValidUpload {
    const nameProblem = fileNameProblem(metadata.fileName);
    if (nameProblem) throw invalidArgument("metadata.file_name", nameProblem);
    const requested = metadata.contentType.trim() === "" ? DEFAULT_CONTENT_TYPE : metadata.contentType;
    const contentType = mediaTypeOf(requested);
    if (!contentType) throw invalidArgument("metadata.content_type", `"${requested.slice(0, 100)}" is not a media type such as text/plain`);
    if (!allowed.has(contentType)) {
      throw invalidArgument("metadata.content_type", `${contentType} is not allowed; allowed: ${[...allowed].join(", ")}`);
    }
    return {
      fileName: metadata.fileName,
      contentType,
      orderId: metadata.orderId ? requireId("metadata.order_id", metadata.orderId) : null,
      customerId: metadata.customerId ? requireId("metadata.customer_id", metadata.customerId) : null,
    };
  }

  /** Reads the chunks after the metadata, enforcing the size limit as they arrive. */
  async function receiveContent(requests: AsyncIterator<UploadRequest>, ctx: CallContext) {
    const hash = createHash("sha256");
    const parts: Buffer[] = [];
    let size = 0;
    for (;;) {
      const next = await requests.next();
      if (next.done) break;
      const data = next.value.data;
      if (data.case === "metadata") throw invalidArgument("metadata", "was sent twice: only the first message may carry metadata");
      if (data.case !== "chunk") throw invalidArgument("data", "every message after the first must carry a chunk");
      if (data.value.length > MAX_UPLOAD_CHUNK_BYTES) throw invalidArgument("chunk", `must be at most ${MAX_UPLOAD_CHUNK_BYTES} bytes`);
      size += data.value.length;
      // Checked before buffering: a client cannot make the server hold more than the limit.
      if (size > maxFileBytes) throw invalidArgument("chunk", `file exceeds ${maxFileBytes} bytes`);
      const chunk = Buffer.from(data.value.buffer, data.value.byteOffset, data.value.byteLength);
      hash.update(chunk);
      parts.push(chunk);
    }
    // A cancelled call may look like a stream that simply ended: never store a truncated file.
    if (ctx.signal.aborted) throw ctx.signal.reason;
    if (size === 0) throw invalidArgument("chunk", "the file is empty: send its content in chunks after the metadata");
    return { body: Buffer.concat(parts, size), size, sha256: hash.digest("hex") };
  }

  async function findFile(fileId: string): Promise<FileRow> {
    const file = await orm.em.fork().findOne(FileMetadata, { id: fileId });
    if (!file) throw notFound("file", fileId);
    return file;
  }

  return {
    async upload(requests, ctx) {
      const iterator = requests[Symbol.asyncIterator]();
      try {
        const first = await iterator.next();
        if (first.done || first.value.data.case !== "metadata") {
          throw invalidArgument("metadata", "the first message must carry the file's metadata");
        }
        const upload = validateMetadata(first.value.data.value);
        const content = await receiveContent(iterator, ctx);

        // The key is generated: the user's file name never reaches a path or an object key.
        const id = uuidv7();
        const storageKey = `uploads/${id}`;
        await store.put(storageKey, content.body, {
          contentType: upload.contentType,
          metadata: { "file-id": id, kind: "upload", sha256: content.sha256 },
          signal: ctx.signal,
        });
        try {
          const file = await orm.em.fork().transactional(async (em) => {
            const row = em.create(FileMetadata, {
              id,
              kind: "UPLOAD",
              ...upload,
              sizeBytes: content.size,
              sha256: content.sha256,
              storageKey,
              createdAt: new Date(),
            });
            await em.flush();
            return row;
          });
          return { file: toFileInfo(file) };
        } catch (error) {
          // Nothing refers to the object: remove it (best effort; a leftover is unreachable).
          await store
            .delete(storageKey)
            .catch((deleteError: unknown) => ctx.logger.warn({ err: deleteError, storage_key: storageKey }, "could not remove an unrecorded upload"));
          throw error;
        }
      } finally {
        // Stop reading whatever the client still sends once we have answered.
        Promise.resolve(iterator.return?.()).catch(() => undefined);
      }
    },

    async *download(request, ctx) {
      const file = await findFile(requireId("file_id", request.fileId));
      let body: Readable;
      try {
        body = await store.open(file.storageKey, ctx.signal);
      } catch (error) {
        if (error instanceof ServiceError && error.code === Code.NOT_FOUND) {
          throw new ServiceError(Code.DATA_LOSS, `the content of file ${file.id} is missing from storage`);
        }
        throw error;
      }
      try {
        yield { data: { case: "info", value: toFileInfo(file) } };
        const hash = createHash("sha256");
        let sent = 0;
        for await (const chunk of rechunk(body, CHUNK_BYTES, ctx.signal)) {
          hash.update(chunk);
          sent += chunk.length;
          yield { data: { case: "chunk", value: chunk } };
        }
        // The client has the bytes by now, but learns from the status that they are not the file.
        if (sent !== file.sizeBytes || hash.digest("hex") !== file.sha256) {
          ctx.logger.error({ file_id: file.id, expected_bytes: file.sizeBytes, sent_bytes: sent }, "stored object does not match its metadata");
          throw new ServiceError(Code.DATA_LOSS, `the stored content of file ${file.id} does not match its size or sha256`);
        }
      } finally {
        body.destroy();
      }
    },

    async getFile(request) {
      return { file: toFileInfo(await findFile(requireId("file_id", request.fileId))) };
    },

    async listFiles(request) {
      const size = pageSize(request.pageSize);
      const before = decodePageToken(request.pageToken);
      const orderId = request.orderId ? requireId("order_id", request.orderId) : undefined;
      // Newest first: UUIDv7 ids sort by creation, so the token is the last id seen and the
      // next page continues below it.
      const rows = await orm.em
        .fork()
        .find(FileMetadata, { ...(before ? { id: { $lt: before } } : {}), ...(orderId ? { orderId } : {}) }, { orderBy: { id: "desc" }, limit: size + 1 });
      const { page, nextPageToken } = nextPage(rows, size);
      return { files: page.map(toFileInfo), nextPageToken };
    },

    async getInvoice(request) {
      const orderId = requireId("order_id", request.orderId);
      const file = await orm.em.fork().findOne(FileMetadata, { orderId, kind: "INVOICE" });
      if (!file) throw notFound("invoice for order", orderId);
      return { file: toFileInfo(file) };
    },
  };
}

/**
 * The bytes of `source` in chunks of exactly `size` (the last one shorter). Pulls from the
 * source only when the consumer asks for the next chunk, so a slow client slows the S3 read
 * down instead of filling memory. A failing source is an S3 outage (UNAVAILABLE), unless the
 * call was cancelled.
 */
async function* rechunk(source: Readable, size: number, signal: AbortSignal): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  try {
    for await (const data of source) {
      const buffer = Buffer.isBuffer(data) ? data : Buffer.from(data as Uint8Array);
      pending.push(buffer);
      pendingBytes += buffer.length;
      if (pendingBytes < size) continue;
      let joined = Buffer.concat(pending, pendingBytes);
      while (joined.length >= size) {
        yield joined.subarray(0, size);
        joined = joined.subarray(size);
      }
      pending = joined.length > 0 ? [joined] : [];
      pendingBytes = joined.length;
    }
  } catch (error) {
    if (signal.aborted || error instanceof ServiceError) throw error;
    throw new ServiceError(Code.UNAVAILABLE, "object storage stopped sending the file's content");
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}
