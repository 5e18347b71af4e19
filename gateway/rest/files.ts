import type { ServerResponse } from "node:http";
import { create } from "@bufbuild/protobuf";
import {
  DownloadRequestSchema,
  FileInfoSchema,
  GetFileRequestSchema,
  ListFilesRequestSchema,
  ListFilesResponseSchema,
  type UploadRequest,
  UploadMetadataSchema,
  UploadRequestSchema,
} from "../../gen/shop/file/v1/file_pb.js";
import { Code, ServiceError } from "../../lib/errors.js";
import { checkContentType, checkFileName } from "../api/file.js";
import { GatewayError, invalid } from "../errors.js";
import { encodeMessage } from "../json.js";
import { rechunk } from "./body.js";
import { write } from "./http.js";
import { DOWNLOAD } from "./openapi-fragments.js";
import type { Reply, RestContext, Route } from "./router.js";

/** Upload chunk size: the file service takes up to 1 MiB per message and recommends 64 KiB. */
const CHUNK_BYTES = 64 * 1024;

/** `filename="..."` (ASCII fallback) plus RFC 5987 `filename*` for the real name. */
export function contentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\]/g, "_") || "download";
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName)}`;
}

/**
 * Streams file `fileId` to the client with backpressure. The first upstream message (the file's
 * info, checked for ownership) sets the headers; errors before it are JSON answers, errors after
 * it abort the response so the client sees a truncated transfer rather than a short success.
 */
export async function streamDownload(ctx: RestContext, fileId: string): Promise<Reply> {
  const messages = ctx.api.file.download(create(DownloadRequestSchema, { fileId }), ctx.call)[Symbol.asyncIterator]();
  try {
    const first = await messages.next();
    if (first.done || first.value.data.case !== "info") throw new ServiceError(Code.INTERNAL, "internal error");
    const info = first.value.data.value;
    (ctx.res as ServerResponse).writeHead(200, {
      "content-type": info.contentType || "application/octet-stream",
      "content-length": String(info.sizeBytes),
      "content-disposition": contentDisposition(info.fileName),
      etag: `"${info.sha256}"`,
      "cache-control": "private, no-cache",
      // Uploaded content is served as a download, never rendered in the gateway's origin.
      "x-content-type-options": "nosniff",
      "content-security-policy": "sandbox",
    });
    for (;;) {
      const next = await messages.next();
      if (next.done) break;
      if (next.value.data.case === "chunk") await write(ctx.res, next.value.data.value, ctx.call.signal);
    }
    ctx.res.end();
    return "handled";
  } finally {
    await messages.return?.().catch(() => undefined);
  }
}

/**
 * POST /api/v1/files/upload?file_name=<name>[&order_id=][&customer_id=]: the body is the file
 * itself (raw bytes, any Content-Type, which becomes the file's MIME type), streamed to the file
 * service's client-streaming Upload in 64 KiB chunks as it arrives, up to MAX_UPLOAD_BYTES (413).
 */
async function upload(ctx: RestContext): Promise<Reply> {
  const contentType = ctx.req.headers["content-type"];
  if (contentType === undefined || contentType.trim() === "") {
    throw new GatewayError(Code.INVALID_ARGUMENT, "Content-Type: is required: the MIME type of the file (e.g. application/pdf)", {
      field: "Content-Type",
      httpStatus: 415,
    });
  }
  for (const name of ["content_type", "contentType"]) {
    if (ctx.url.searchParams.has(name)) throw invalid(name, "is not a query parameter: send the file's MIME type as Content-Type");
  }
  const metadata = ctx.input(UploadMetadataSchema, { query: true, body: false });
  checkFileName("file_name", metadata.fileName);
  metadata.contentType = checkContentType("Content-Type", contentType.trim());
  if (ctx.rawBody.declaredLength === 0) throw invalid("body", "the file content is required (the request body is empty)");

  const body = ctx.rawBody;
  async function* requests(): AsyncGenerator<UploadRequest> {
    yield create(UploadRequestSchema, { data: { case: "metadata", value: metadata } });
    for await (const chunk of rechunk(body.chunks(), CHUNK_BYTES)) {
      yield create(UploadRequestSchema, { data: { case: "chunk", value: chunk } });
    }
  }
  const { file } = await ctx.api.file.upload(requests(), ctx.call);
  return { status: 201, json: encodeMessage(FileInfoSchema, file!), headers: { location: `/api/v1/files/${file!.id}` } };
}

export const fileRoutes: Route[] = [
  {
    method: "POST",
    path: "/api/v1/files/upload",
    rawBody: true,
    summary: "Upload a file: raw body, Content-Type = its MIME type, ?file_name= (&order_id=)",
    request: UploadMetadataSchema,
    queryParams: true,
    response: FileInfoSchema,
    successStatus: 201,
    openapi: { requestBody: { required: true, content: { "*/*": { schema: { type: "string", format: "binary" } } } } },
    handle: upload,
  },
  {
    method: "GET",
    path: "/api/v1/files",
    summary: "List files (order_id required for customers; page_size, page_token)",
    request: ListFilesRequestSchema,
    queryParams: true,
    response: ListFilesResponseSchema,
    async handle(ctx) {
      const response = await ctx.api.file.listFiles(ctx.input(ListFilesRequestSchema, { query: true, body: false }), ctx.call);
      return { json: encodeMessage(ListFilesResponseSchema, response) };
    },
  },
  {
    method: "GET",
    path: "/api/v1/files/:id",
    summary: "A file's metadata",
    request: GetFileRequestSchema,
    response: FileInfoSchema,
    async handle(ctx) {
      const { file } = await ctx.api.file.getFile(ctx.input(GetFileRequestSchema, { path: { file_id: ctx.params.id }, body: false }), ctx.call);
      return { json: encodeMessage(FileInfoSchema, file!) };
    },
  },
  {
    method: "GET",
    path: "/api/v1/files/:id/download",
    summary: "Download a file (streamed)",
    request: DownloadRequestSchema,
    openapi: DOWNLOAD,
    async handle(ctx) {
      const { fileId } = ctx.input(DownloadRequestSchema, { path: { file_id: ctx.params.id }, body: false });
      return streamDownload(ctx, fileId);
    },
  },
];
