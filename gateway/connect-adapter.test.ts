import { createServer, request, type Server, type ServerResponse } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it, jest } from "@jest/globals";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { OrderSchema, OrderService } from "../gen/shop/order/v1/order_pb.js";
import { createLogger } from "../lib/log.js";
import { waitFor } from "../test/harness/index.js";
import { connectHandler, isClientGone } from "./connect-adapter.js";

/** Node's error for a write to a response whose client hung up. */
function destroyedStream(): Error {
  return Object.assign(new Error("Cannot call write after a stream was destroyed"), { code: "ERR_STREAM_DESTROYED" });
}

describe("client disconnects", () => {
  it("tells a client that went away from a handler that failed", () => {
    expect(isClientGone(destroyedStream())).toBe(true);
    // As connect reports it: INTERNAL, with Node's error as the cause.
    expect(isClientGone(new ConnectError("Cannot call write after a stream was destroyed", Code.Internal, undefined, undefined, destroyedStream()))).toBe(true);
    expect(isClientGone(new ConnectError("the client cancelled", Code.Canceled))).toBe(true);
    expect(isClientGone(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }))).toBe(true);
    expect(isClientGone(new ConnectError("boom", Code.Internal, undefined, undefined, new TypeError("x is undefined")))).toBe(false);
    expect(isClientGone(new Error("boom"))).toBe(false);
    expect(isClientGone("not even an error")).toBe(false);
  });

  describe("over HTTP", () => {
    const lines: { level: string; msg: string; rpc?: string }[] = [];
    const logger = createLogger("connect-adapter-test", { level: "debug" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    let server: Server;
    let port: number;
    const responses = new Set<ServerResponse>();
    let breakWith = destroyedStream;

    beforeAll(async () => {
      const handler = connectHandler({
        logger,
        routes(router) {
          router.service(OrderService, {
            // The connection drops between two messages, before Node has told anyone it closed:
            // what a browser cancelling its fetch looks like when it races the next write.
            async *watchOrder() {
              yield { order: create(OrderSchema, { id: "o-1" }) };
              for (const res of responses) res.destroy(breakWith());
              yield { order: create(OrderSchema, { id: "o-1" }) };
            },
          });
        },
      });
      server = createServer((req, res) => {
        responses.add(res);
        res.once("close", () => responses.delete(res));
        handler(req, res);
      });
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      port = (server.address() as { port: number }).port;
    });

    afterEach(() => {
      lines.length = 0;
      jest.restoreAllMocks();
    });

    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    /** Calls WatchOrder; resolves with the log line about it once there is one. */
    async function watch(): Promise<{ level: string; msg: string }> {
      const body = Buffer.from(JSON.stringify({ orderId: "o-1" }));
      const envelope = Buffer.concat([Buffer.from([0, 0, 0, 0, body.length]), body]);
      const req = request({
        host: "127.0.0.1",
        port,
        method: "POST",
        path: "/shop.order.v1.OrderService/WatchOrder",
        headers: { "content-type": "application/connect+json" },
      });
      req.on("error", () => undefined);
      req.on("response", (res) => res.on("error", () => undefined));
      req.end(envelope);
      return waitFor(() => lines.find((l) => l.rpc === "shop.order.v1.OrderService/WatchOrder"), { message: "the failed write logged" });
    }

    it("logs a stream whose client hung up at debug, on the gateway's logger, not console.error", async () => {
      const consoleError = jest.spyOn(console, "error").mockImplementation(() => undefined);
      breakWith = destroyedStream;
      expect(await watch()).toMatchObject({ level: "debug", msg: "client went away before the response was written" });
      expect(lines.filter((l) => l.level === "error")).toEqual([]);
      expect(consoleError).not.toHaveBeenCalled();
    });

    it("logs any other failure to answer at error", async () => {
      const consoleError = jest.spyOn(console, "error").mockImplementation(() => undefined);
      breakWith = () => new Error("the response broke for a reason of the server's own");
      expect(await watch()).toMatchObject({ level: "error", msg: "RPC handler failed" });
      expect(consoleError).not.toHaveBeenCalled();
    });

    it("answers 404 for a path no service serves", async () => {
      const answer = await fetch(`http://127.0.0.1:${port}/shop.nothing.v1.Nope/Call`, { method: "POST" });
      expect(answer.status).toBe(404);
    });
  });
});
