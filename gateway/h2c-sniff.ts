import { createServer as createHttp1Server, STATUS_CODES, type IncomingMessage, type Server as Http1Server, type ServerResponse } from "node:http";
import { createServer as createHttp2Server, type Http2Server, type Http2ServerRequest, type Http2ServerResponse, type Http2Session } from "node:http2";
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import type { Duplex } from "node:stream";

/**
 * HTTP/1.1 and h2c (HTTP/2 over cleartext with prior knowledge) on one port.
 *
 * Node's `http2.createServer` speaks only h2c and `http.createServer` only HTTP/1.x (`allowHTTP1`
 * exists for TLS servers only, where ALPN decides). So a plain TCP server peeks at the first
 * bytes of each connection: the HTTP/2 connection preface `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`
 * goes to the HTTP/2 server, anything else to the HTTP/1.1 server. The bytes read are pushed
 * back (`unshift`), so each server sees the connection from its first byte. gRPC clients use h2c;
 * browsers, curl and fetch use HTTP/1.1; Connect and gRPC-Web work on both. (The HTTP/1.1
 * `Upgrade: h2c` dance is not supported: such clients simply stay on HTTP/1.1.)
 */

export const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export type RequestHandler = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => void;

/** "h2" when `bytes` start with the HTTP/2 preface, "http1" when they cannot, undefined while undecided. */
export function sniff(bytes: Buffer): "h2" | "http1" | undefined {
  const n = Math.min(bytes.length, HTTP2_PREFACE.length);
  if (!bytes.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n))) return "http1";
  return n === HTTP2_PREFACE.length ? "h2" : undefined;
}

export interface DualServerOptions {
  /** A connection that sends nothing for this long is closed (default 10 s). */
  firstBytesTimeoutMs?: number;
  /** HTTP/1.1 keep-alive idle timeout (default 65 s, above common load balancer idle timeouts). */
  keepAliveTimeoutMs?: number;
  /** Headers must arrive within this time (default 30 s; slowloris protection). */
  headersTimeoutMs?: number;
  /** An HTTP/1.1 connection without any traffic for this long is closed (default 5 min). */
  idleTimeoutMs?: number;
}

export interface DualServer {
  readonly net: NetServer;
  readonly http1: Http1Server;
  readonly http2: Http2Server;
  listen(port: number, host?: string): Promise<number>;
  /**
   * Stops accepting connections, lets in-flight requests finish for up to `graceMs`, then
   * destroys whatever is left (tracking streams never end by themselves).
   */
  close(graceMs?: number): Promise<void>;
}

export function createDualServer(handler: RequestHandler, options: DualServerOptions = {}): DualServer {
  const http1 = createHttp1Server(handler as (req: IncomingMessage, res: ServerResponse) => void);
  http1.keepAliveTimeout = options.keepAliveTimeoutMs ?? 65_000;
  http1.headersTimeout = options.headersTimeoutMs ?? 30_000;
  // No limit on the whole request: uploads and event streams may take long. An HTTP/1.1
  // connection on which nothing moves for `idleTimeoutMs` is closed instead (SSE sends
  // keep-alives every 15 s). HTTP/2 clients keep their sessions alive with PING frames.
  http1.requestTimeout = 0;
  http1.setTimeout(options.idleTimeoutMs ?? 300_000);
  // Requests Node's parser refuses, and CONNECT (which Node hands to a 'connect' listener or,
  // without one, answers by closing the connection), get a JSON error like every other answer.
  http1.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => answerRawError(socket, parserErrorAnswer(error)));
  http1.on("connect", (_req: IncomingMessage, socket: Duplex) => answerRawError(socket, CONNECT_REFUSED));
  const http2 = createHttp2Server({}, handler as (req: Http2ServerRequest, res: Http2ServerResponse) => void);
  // Over HTTP/2 Node answers CONNECT with a bodyless 405 unless someone listens.
  http2.on("connect", (_req: Http2ServerRequest, res: Http2ServerResponse) => {
    const body = JSON.stringify({ error: { code: "unimplemented", message: CONNECT_REFUSED.message } });
    res.writeHead(405, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...CONNECT_REFUSED.headers });
    res.end(body);
  });

  const sockets = new Set<Socket>();
  const sessions = new Set<Http2Session>();
  http2.on("session", (session: Http2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  });

  const net = createNetServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => socket.destroy(), options.firstBytesTimeoutMs ?? 10_000);
    timer.unref();
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const protocol = sniff(received);
      if (!protocol) return;
      clearTimeout(timer);
      socket.off("data", onData);
      socket.pause();
      socket.unshift(received);
      if (protocol === "h2") {
        // The HTTP/2 session reads bytes already buffered on the socket, then takes over its handle.
        http2.emit("connection", socket);
      } else {
        http1.emit("connection", socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
    socket.once("end", () => clearTimeout(timer));
  });

  return {
    net,
    http1,
    http2,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        net.once("error", reject);
        net.listen(port, host, () => {
          net.off("error", reject);
          resolve((net.address() as { port: number }).port);
        });
      });
    },
    async close(graceMs = 10_000) {
      const closed = new Promise<void>((resolve) => net.close(() => resolve()));
      http1.closeIdleConnections();
      for (const session of sessions) session.close();
      const timer = setTimeout(() => {
        for (const session of sessions) session.destroy();
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      timer.unref();
      // HTTP/1.1 connections that become idle after their last response close now.
      const idle = setInterval(() => http1.closeIdleConnections(), 100);
      idle.unref();
      await closed;
      clearTimeout(timer);
      clearInterval(idle);
    },
  };
}

const CONNECT_REFUSED: RawErrorAnswer = {
  status: 405,
  code: "unimplemented",
  message: "method CONNECT is not supported: this is not a proxy",
  headers: { allow: "GET, POST, PUT, PATCH, DELETE" },
};

/** An error answer written straight to a socket, outside any request handler. */
export interface RawErrorAnswer {
  status: number;
  code: string;
  message: string;
  headers?: Record<string, string>;
}

/** The answer to a request Node's HTTP/1 parser refused, by the parser's error code. */
export function parserErrorAnswer(error: NodeJS.ErrnoException): RawErrorAnswer {
  switch (error.code) {
    case "HPE_HEADER_OVERFLOW":
      return { status: 431, code: "invalid_argument", message: "request headers are too large" };
    case "HPE_CHUNK_EXTENSIONS_OVERFLOW":
    case "ERR_HTTP_REQUEST_TIMEOUT":
    case "ERR_HTTP_HEADERS_TIMEOUT":
      // Slow clients: they are told so, then cut off.
      return { status: 408, code: "deadline_exceeded", message: "the request was not received in time" };
    default: {
      const reason: unknown = (error as { reason?: unknown }).reason;
      return { status: 400, code: "invalid_argument", message: `malformed HTTP request${typeof reason === "string" ? `: ${reason}` : ""}` };
    }
  }
}

/**
 * Writes a complete HTTP/1.1 error response with a JSON body and closes the connection (after
 * a parser error nothing more can be read from it). A socket already gone is just destroyed.
 */
export function answerRawError(socket: Duplex, answer: RawErrorAnswer): void {
  if (!socket.writable || socket.destroyed) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify({ error: { code: answer.code, message: answer.message } });
  const head = [
    `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? "Error"}`,
    "content-type: application/json; charset=utf-8",
    `content-length: ${Buffer.byteLength(body)}`,
    "cache-control: no-store",
    "connection: close",
    ...Object.entries(answer.headers ?? {}).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.end(`${head.join("\r\n")}\r\n\r\n${body}`);
}
