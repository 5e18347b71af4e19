import type { Hash } from "node:crypto";
import type { Readable } from "node:stream";
import { Code } from "../../lib/errors.js";
import { GatewayError } from "../errors.js";
import type { NodeRequest } from "./http.js";

export function payloadTooLarge(limit: number, what = "request body"): GatewayError {
  return new GatewayError(Code.INVALID_ARGUMENT, `body: ${what} exceeds the limit of ${limit} bytes`, { field: "body", httpStatus: 413 });
}

/**
 * The body of one request, read at most once, never more than `limit` bytes (413 beyond, as
 * soon as Content-Length or the bytes received say so), optionally fed into a hash as it
 * streams (for Idempotency-Key).
 */
export class RequestBody {
  #consumed = false;
  #received = 0;
  #complete = false;

  constructor(
    private readonly req: NodeRequest,
    readonly limit: number,
    private readonly hash?: Hash,
  ) {}

  /** Content-Length when the client sent one. */
  get declaredLength(): number | undefined {
    const header = this.req.headers["content-length"];
    if (header === undefined || !/^\d+$/.test(header)) return undefined;
    return Number(header);
  }

  get consumed(): boolean {
    return this.#consumed;
  }

  /** True once the whole body has been read. */
  get complete(): boolean {
    return this.#complete;
  }

  /** The body's chunks as they arrive. */
  async *chunks(): AsyncGenerator<Buffer> {
    if (this.#consumed) throw new Error("request body already consumed");
    this.#consumed = true;
    const declared = this.declaredLength;
    if (declared !== undefined && declared > this.limit) throw payloadTooLarge(this.limit);
    const chunks = this.#iterate()[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await chunks.next();
      } catch {
        // The client reset the connection or aborted the request mid-body.
        throw new GatewayError(Code.CANCELLED, "the client went away while sending the body");
      }
      if (next.done) break;
      const chunk = next.value;
      this.#received += chunk.length;
      if (this.#received > this.limit) {
        await chunks.return?.();
        throw payloadTooLarge(this.limit);
      }
      this.hash?.update(chunk);
      yield chunk;
    }
    this.#complete = true;
  }

  /** The whole body. */
  async bytes(): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const chunk of this.chunks()) parts.push(chunk);
    return Buffer.concat(parts);
  }

  /**
   * Reads and drops what is left of the body, up to `cap` bytes, so that the client, still
   * sending, receives the error answer instead of a reset connection. Returns false if more
   * was left (the connection should then be closed after the answer).
   */
  async discard(cap: number): Promise<boolean> {
    if (this.#complete || this.req.readableEnded) return true;
    let dropped = 0;
    try {
      for await (const chunk of this.#iterate()) {
        dropped += chunk.length;
        if (dropped > cap) return false;
      }
    } catch {
      return false;
    }
    return true;
  }

  /** Iterates without destroying the request on early exit: an error answer must still go out. */
  #iterate(): AsyncIterable<Buffer> {
    return (this.req as unknown as Readable).iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>;
  }
}

/** Re-chunks a byte stream into pieces of exactly `size` bytes (the last may be shorter). */
export async function* rechunk(source: AsyncIterable<Buffer>, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const chunk of source) {
    pending.push(chunk);
    pendingBytes += chunk.length;
    while (pendingBytes >= size) {
      const all = Buffer.concat(pending);
      yield all.subarray(0, size);
      const rest = all.subarray(size);
      pending = rest.length > 0 ? [rest] : [];
      pendingBytes = rest.length;
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending);
}
