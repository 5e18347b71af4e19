import { Code as ConnectCode, ConnectError, type ConnectRouterOptions, type ConnectRouter, type ContextValues, createConnectRouter } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip, universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import type { Logger } from "../lib/log.js";
import type { NodeRequest, NodeResponse } from "./rest/http.js";

/**
 * The gateway's connect-node request handler. connect-node's own `connectNodeAdapter` prints
 * every failure to write a response with console.error ("handler for rpc X failed"), including
 * the everyday one of a browser that cancelled its request (an aborted fetch, a closed tab):
 * noise outside the gateway's log, at a level that pages someone. This handler is built from
 * the same public parts (the router, universalRequestFromNodeRequest and
 * universalResponseToNodeResponse, which connect-node exports for adapters) and reports to the
 * gateway's logger: a client that went away at debug, anything else at error.
 */
export interface ConnectHandlerOptions extends ConnectRouterOptions {
  routes(router: ConnectRouter): void;
  contextValues?(req: NodeRequest): ContextValues;
  logger: Logger;
}

/** What Node reports when the peer is gone: a write to a destroyed stream, a reset, an HTTP/2 cancel. */
const CLIENT_GONE = new Set([
  "ERR_STREAM_DESTROYED",
  "ERR_STREAM_PREMATURE_CLOSE",
  "ERR_STREAM_WRITE_AFTER_END",
  "ECONNRESET",
  "EPIPE",
  "ERR_HTTP2_INVALID_STREAM",
  "ERR_HTTP2_STREAM_CANCEL",
]);

/**
 * True when `error` means the client hung up rather than that the server failed: a cancelled or
 * aborted call, or a Node stream error of a peer that went away anywhere in its `cause` chain
 * (connect may wrap it in an INTERNAL ConnectError). Nothing else: a response the server broke
 * itself is a failure even though no client will read it.
 */
export function isClientGone(error: unknown): boolean {
  if (error instanceof ConnectError && (error.code === ConnectCode.Canceled || error.code === ConnectCode.Aborted)) return true;
  const seen = new Set<unknown>();
  for (let e = error; e instanceof Error && !seen.has(e); e = e.cause) {
    seen.add(e);
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && CLIENT_GONE.has(code)) return true;
  }
  return false;
}

/** Connect, gRPC and gRPC-Web on Node's HTTP/1.1 and HTTP/2 servers; unknown paths answer 404. */
export function connectHandler(options: ConnectHandlerOptions): (req: NodeRequest, res: NodeResponse) => void {
  // As connect-node's adapter: answers may be compressed with gzip or brotli unless told otherwise.
  const router = createConnectRouter({ acceptCompression: [compressionGzip, compressionBrotli], ...options });
  options.routes(router);
  const handlers = new Map(router.handlers.map((handler) => [handler.requestPath, handler]));
  const { logger } = options;
  return (req, res) => {
    const handler = handlers.get((req.url ?? "").split("?", 1)[0]);
    if (!handler) {
      res.writeHead(404);
      res.end();
      return;
    }
    const rpc = `${handler.service.typeName}/${handler.method.name}`;
    const universal = universalRequestFromNodeRequest(req, res, undefined, options.contextValues?.(req));
    handler(universal)
      .then((answer) => universalResponseToNodeResponse(answer, res))
      .catch((error: unknown) => {
        if (isClientGone(error)) logger.debug({ rpc, err: error }, "client went away before the response was written");
        else logger.error({ rpc, err: error }, "RPC handler failed");
      });
  };
}
