import { request as http1Request } from "node:http";
import { connect as http2Connect } from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createDualServer, type DualServer, HTTP2_PREFACE, sniff } from "./h2c-sniff.js";

describe("sniff", () => {
  it("recognises the HTTP/2 preface, even when it arrives in pieces", () => {
    expect(sniff(HTTP2_PREFACE)).toBe("h2");
    expect(sniff(Buffer.concat([HTTP2_PREFACE, Buffer.from([0, 0, 0])]))).toBe("h2");
    expect(sniff(HTTP2_PREFACE.subarray(0, 5))).toBeUndefined();
    expect(sniff(Buffer.from("GET / HTTP/1.1\r\n"))).toBe("http1");
    expect(sniff(Buffer.from("PRI * HTTP/1.1"))).toBe("http1");
    expect(sniff(Buffer.from("P"))).toBeUndefined();
  });
});

describe("one port for HTTP/1.1 and h2c", () => {
  let server: DualServer;
  let port: number;

  beforeAll(async () => {
    server = createDualServer((req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (chunk: string) => (body += chunk));
      req.on("end", () => {
        res.writeHead(200, { "content-type": "text/plain" });
        res.end(`HTTP/${req.httpVersion} ${req.method} ${req.url} ${body}`);
      });
    });
    port = await server.listen(0, "127.0.0.1");
  });

  afterAll(() => server.close(1_000));

  function http1(path: string, body?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = http1Request({ host: "127.0.0.1", port, path, method: body ? "POST" : "GET", agent: false }, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => resolve(text));
      });
      req.on("error", reject);
      req.end(body);
    });
  }

  function h2(path: string, body?: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const session = http2Connect(`http://127.0.0.1:${port}`);
      session.on("error", reject);
      const stream = session.request({ ":path": path, ":method": body ? "POST" : "GET" });
      let text = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => (text += chunk));
      stream.on("end", () => {
        session.close();
        resolve(text);
      });
      stream.on("error", reject);
      stream.end(body);
    });
  }

  it("serves HTTP/1.1 and HTTP/2 prior knowledge requests on the same port", async () => {
    expect(await http1("/one")).toBe("HTTP/1.1 GET /one ");
    expect(await h2("/two")).toBe("HTTP/2.0 GET /two ");
    expect(await http1("/three", "payload")).toBe("HTTP/1.1 POST /three payload");
    expect(await h2("/four", "payload")).toBe("HTTP/2.0 POST /four payload");
  });

  it("keeps both working under concurrent mixed traffic", async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? h2(`/m${i}`) : http1(`/m${i}`))));
    results.forEach((text, i) => expect(text).toBe(`HTTP/${i % 2 ? "2.0" : "1.1"} GET /m${i} `));
  });
});
