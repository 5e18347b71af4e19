import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "@jest/globals";
import { createLogger } from "../lib/log.js";
import { readGatewayConfig } from "./config.js";
import { type RunningGateway, start } from "./server.js";
import { acceptsEncoding, CONTENT_SECURITY_POLICY } from "./static-files.js";

const logger = createLogger("static-test", { level: process.env.TEST_LOG_LEVEL ?? "silent" });
const DOWN = "127.0.0.1:1";

function gatewayWith(webDir: string): Promise<RunningGateway> {
  return start(
    readGatewayConfig({
      GATEWAY_PORT: "0",
      GATEWAY_HOST: "127.0.0.1",
      METRICS_PORT: "-1",
      JWT_SECRET: "static-files-test-secret-0123456789abcdef",
      WEB_DIR: webDir,
      ORDER_ADDR: DOWN,
      INVENTORY_ADDR: DOWN,
      PAYMENT_ADDR: DOWN,
      NOTIFICATION_ADDR: DOWN,
      FILE_ADDR: DOWN,
      DELIVERY_ADDR: DOWN,
    }),
    { logger },
  );
}

describe("the gateway serving the web app", () => {
  let dir: string;
  let gateway: RunningGateway;
  let empty: RunningGateway;
  let base: string;
  const script = `console.log(${JSON.stringify("x".repeat(4000))});`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "web-dist-"));
    mkdirSync(join(dir, "assets"));
    writeFileSync(join(dir, "index.html"), '<!doctype html><script type="module" src="/assets/index-abc123.js"></script>');
    writeFileSync(join(dir, "assets", "index-abc123.js"), script);
    writeFileSync(join(dir, "favicon.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>");
    gateway = await gatewayWith(dir);
    empty = await gatewayWith(join(dir, "missing"));
    base = `http://127.0.0.1:${gateway.port}`;
  });

  afterAll(async () => {
    await gateway?.stop(500);
    await empty?.stop(500);
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves index.html at / with no-cache, an ETag and a strict CSP", async () => {
    const answer = await fetch(`${base}/`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(answer.headers.get("cache-control")).toBe("no-cache");
    expect(answer.headers.get("content-security-policy")).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(answer.headers.get("x-content-type-options")).toBe("nosniff");
    expect(answer.headers.get("x-frame-options")).toBe("DENY");
    expect(await answer.text()).toContain("/assets/index-abc123.js");
    const again = await fetch(`${base}/index.html`, { headers: { "if-none-match": answer.headers.get("etag")! } });
    expect(again.status).toBe(304);
  });

  it("serves hashed assets as immutable, compressed when the client accepts it", async () => {
    const plain = await fetch(`${base}/assets/index-abc123.js`, { headers: { "accept-encoding": "identity" } });
    expect(plain.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(plain.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(await plain.text()).toBe(script);
    // Node's fetch decodes for us; read the raw bytes through http to see the encoding.
    const { request } = await import("node:http");
    const raw = await new Promise<{ encoding?: string; body: Buffer }>((resolve, reject) => {
      request(`${base}/assets/index-abc123.js`, { headers: { "accept-encoding": "gzip" } }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ encoding: res.headers["content-encoding"], body: Buffer.concat(chunks) }));
      })
        .on("error", reject)
        .end();
    });
    expect(raw.encoding).toBe("gzip");
    expect(gunzipSync(raw.body).toString()).toBe(script);
  });

  it("answers HEAD without a body, other methods with 405, unknown files with the API's 404", async () => {
    const head = await fetch(`${base}/favicon.svg`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-type")).toBe("image/svg+xml");
    const post = await fetch(`${base}/index.html`, { method: "POST" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
    const missing = await fetch(`${base}/assets/nope.js`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: "not_found" } });
    // The API is untouched: REST routes still need a token.
    expect((await fetch(`${base}/api/v1/orders`)).status).toBe(401);
  });

  it("says how to build the app when there is no build", async () => {
    const answer = await fetch(`http://127.0.0.1:${empty.port}/`);
    expect(answer.status).toBe(404);
    expect(await answer.text()).toMatch(/npm run build:web/);
  });

  it("reads Accept-Encoding with q-values", () => {
    expect(acceptsEncoding("gzip, br", "br")).toBe(true);
    expect(acceptsEncoding("gzip;q=1, br;q=0", "br")).toBe(false);
    expect(acceptsEncoding("deflate", "gzip")).toBe(false);
  });
});
