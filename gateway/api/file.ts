import { create } from "@bufbuild/protobuf";
import { type FileInfo, type FileService, ListFilesResponseSchema, type UploadRequest } from "../../gen/shop/file/v1/file_pb.js";
import { Code, notFound, ServiceError } from "../../lib/errors.js";
import type { Principal } from "../auth.js";
import { invalid } from "../errors.js";
import type { Upstreams } from "../upstreams.js";
import { ownerField } from "./access.js";
import { ownedOrder } from "./order.js";
import { type Api, type Call, upstreamOptions } from "./types.js";

const MAX_FILE_NAME = 255;

/**
 * A file name as the gateway accepts it: a plain name, never a path. Separators, `..`, control
 * characters and names that are only dots are refused (INVALID_ARGUMENT naming `field`), so no
 * layer below ever sees something that could escape a directory or forge a header.
 */
export function checkFileName(field: string, name: string): string {
  if (name === "") throw invalid(field, "is required");
  if (name.length > MAX_FILE_NAME) throw invalid(field, `must be at most ${MAX_FILE_NAME} characters`);
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(name)) throw invalid(field, "must not contain control characters");
  // Percent-encoded dots and separators too: some layer might decode the name once more.
  if (/[/\\]/.test(name) || name.includes("..") || /^\.*$/.test(name) || /%(2e|2f|5c)/i.test(name)) {
    throw invalid(field, `must be a plain file name without path separators or "..", got "${name.slice(0, 64)}"`);
  }
  if (name.trim() !== name) throw invalid(field, "must not start or end with whitespace");
  return name;
}

/** A MIME type such as `application/pdf`; empty means application/octet-stream. */
export function checkContentType(field: string, value: string): string {
  if (value === "") return value;
  if (value.length > 255 || !/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+(\s*;\s*[a-z0-9!#$&^_.+-]+=("[^"]*"|[a-z0-9!#$&^_.+-]+))*$/i.test(value)) {
    throw invalid(field, `must be a MIME type such as application/pdf, got "${value.slice(0, 64)}"`);
  }
  return value;
}

/** Whether `principal` may see `file`: admins all; customers files they own or of their orders. */
async function maySee(upstreams: Upstreams, principal: Principal, file: FileInfo | undefined, call: Call): Promise<boolean> {
  if (!file) return false;
  if (principal.admin || file.customerId === principal.sub) return true;
  if (file.customerId !== "" || file.orderId === "") return false;
  try {
    await ownedOrder(upstreams, file.orderId, call);
    return true;
  } catch (error) {
    if (error instanceof ServiceError && error.code === Code.NOT_FOUND) return false;
    throw error;
  }
}

/** Files: customers upload, list and download their own and their orders' invoices. */
export function fileApi(upstreams: Upstreams): Api<typeof FileService> {
  const file = upstreams.file;

  /** Checks and completes the metadata (first message) before anything reaches the file service. */
  async function* checkedUpload(requests: AsyncIterable<UploadRequest>, call: Call): AsyncGenerator<UploadRequest> {
    let first = true;
    for await (const request of requests) {
      if (first) {
        first = false;
        if (request.data.case !== "metadata") throw invalid("metadata", "the first message must carry the metadata");
        const metadata = request.data.value;
        checkFileName("metadata.file_name", metadata.fileName);
        checkContentType("metadata.content_type", metadata.contentType);
        metadata.customerId = ownerField(call.principal, "metadata.customer_id", metadata.customerId);
        if (metadata.orderId !== "" && !call.principal.admin) await ownedOrder(upstreams, metadata.orderId, call);
      } else if (request.data.case === "metadata") {
        throw invalid("metadata", "must be sent only once, in the first message");
      }
      yield request;
    }
    if (first) throw invalid("metadata", "the first message must carry the metadata");
  }

  return {
    upload: (requests, call) => file.upload(checkedUpload(requests, call), upstreamOptions(call)),

    async *download(request, call) {
      let checked = false;
      for await (const message of file.download(request, upstreamOptions(call))) {
        if (!checked) {
          // The first message is the file's info: its owner decides before any content is sent.
          const info = message.data.case === "info" ? message.data.value : undefined;
          if (!(await maySee(upstreams, call.principal, info, call))) throw notFound("file", request.fileId);
          checked = true;
        }
        yield message;
      }
    },

    async getFile(request, call) {
      const response = await file.getFile(request, upstreamOptions(call));
      if (!(await maySee(upstreams, call.principal, response.file, call))) throw notFound("file", request.fileId);
      return response;
    },

    async listFiles(request, call) {
      if (call.principal.admin) return file.listFiles(request, upstreamOptions(call));
      // Files are listed per order for customers (the file service has no owner filter).
      if (request.orderId === "") throw invalid("order_id", "is required for customers");
      await ownedOrder(upstreams, request.orderId, call);
      const response = await file.listFiles(request, upstreamOptions(call));
      const visible = response.files.filter((f) => f.customerId === "" || f.customerId === call.principal.sub);
      return create(ListFilesResponseSchema, { files: visible, nextPageToken: response.nextPageToken });
    },

    async getInvoice(request, call) {
      if (!call.principal.admin) await ownedOrder(upstreams, request.orderId, call);
      return file.getInvoice(request, upstreamOptions(call));
    },
  };
}
