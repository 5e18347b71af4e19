import type { IncomingMessage, ServerResponse } from "node:http";
import { constants as h2, type Http2ServerRequest, type Http2ServerResponse } from "node:http2";
import type { JsonValue } from "@bufbuild/protobuf";

/** Node request and response of either server (HTTP/1.1 or h2c); both get the same handler. */
export type NodeRequest = IncomingMessage | Http2ServerRequest;
export type NodeResponse = ServerResponse | Http2ServerResponse;

export function isHttp2(req: NodeRequest): boolean {
  return req.httpVersionMajor === 2;
}

/** True when nothing can be written any more (the client went away, or the response ended). */
export function isGone(res: NodeResponse): boolean {
  if (res.writableEnded) return true;
  return "stream" in res ? res.stream.destroyed || res.stream.closed : res.destroyed;
}

/**
 * Writes a complete JSON answer. Never throws: HTTP/2 compat responses throw when written after
 * their stream closed, and nobody is left to answer then anyway.
 */
export function sendJson(res: NodeResponse, status: number, json: JsonValue | undefined, headers: Record<string, string> = {}): void {
  try {
    if (isGone(res)) return;
    if (res.headersSent) {
      abortResponse(res);
      return;
    }
    if (json === undefined) {
      (res as ServerResponse).writeHead(status, headers);
      res.end();
      return;
    }
    const body = Buffer.from(JSON.stringify(json), "utf8");
    (res as ServerResponse).writeHead(status, {
      ...headers,
      "content-type": "application/json; charset=utf-8",
      "content-length": String(body.length),
      "cache-control": headers["cache-control"] ?? "no-store",
    });
    res.end(body);
  } catch {
    abortResponse(res);
  }
}

/** Ends a response whose headers are already out, so the client sees a failure, not a short success. */
export function abortResponse(res: NodeResponse, error?: Error): void {
  try {
    if ("stream" in res) {
      if (!res.stream.destroyed) res.stream.close(h2.NGHTTP2_INTERNAL_ERROR);
    } else if (!res.destroyed) {
      res.destroy(error);
    }
  } catch {
    // already torn down
  }
}

/** Writes `chunk`, waiting while the client is slower than the upstream (backpressure). */
export async function write(res: NodeResponse, chunk: Uint8Array | string, signal: AbortSignal): Promise<void> {
  if (isGone(res)) throw signal.reason ?? new Error("the client went away");
  if ((res as ServerResponse).write(chunk)) return;
  await new Promise<void>((resolve, reject) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      signal.removeEventListener("abort", done);
      if (signal.aborted) reject(signal.reason ?? new Error("client went away"));
      else resolve();
    };
    res.on("drain", done);
    res.on("close", done);
    signal.addEventListener("abort", done, { once: true });
  });
}
